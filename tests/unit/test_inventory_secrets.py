"""Secret references are resolved only by secrets.resolve; errors never contain the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from poshbridge.inventory.model import SecretRef
from poshbridge.inventory.secrets import SecretError, resolve
from poshbridge.powershell.command import MASK


def test_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PB_TEST_SECRET", "s3cr3t")
    secret = resolve(SecretRef("env", "PB_TEST_SECRET"), tmp_path)
    assert secret.reveal() == "s3cr3t"
    assert str(secret) == MASK


def test_env_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PB_TEST_SECRET", raising=False)
    with pytest.raises(SecretError, match="PB_TEST_SECRET is not set"):
        resolve(SecretRef("env", "PB_TEST_SECRET"), tmp_path)


def test_file_relative_to_base_dir_without_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw.txt").write_text("p@ss word\r\n", encoding="utf-8")
    assert resolve(SecretRef("file", "secrets/pw.txt"), tmp_path).reveal() == "p@ss word"


def test_file_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="cannot read secret file"):
        resolve(SecretRef("file", "nope.txt"), tmp_path)
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(SecretError, match="is empty"):
        resolve(SecretRef("file", "empty.txt"), tmp_path)


def test_literal_and_repr_never_show_the_value(tmp_path: Path) -> None:
    ref = SecretRef("literal", "", "hunter2")
    assert "hunter2" not in repr(ref)
    assert resolve(ref, tmp_path).reveal() == "hunter2"
