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


# ----- secret files: regular, small, private ---------------------------------------------------------


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pw.fifo"
    os.mkfifo(fifo)
    with pytest.raises(SecretError, match=r"not a regular file \(a FIFO"):
        resolve(SecretRef("file", str(fifo)), tmp_path)  # a blocking open would never return


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a character device"), (".", "a directory")])
def test_devices_and_directories_are_refused(tmp_path: Path, path: str, kind: str) -> None:
    with pytest.raises(SecretError, match=f"not a regular file \\({kind}\\)"):
        resolve(SecretRef("file", path), tmp_path)


def test_a_secret_file_over_64_kib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_bytes(b"x" * 65536)
    (tmp_path / "ok.txt").chmod(0o600)
    assert len(resolve(SecretRef("file", "ok.txt"), tmp_path).reveal()) == 65536
    (tmp_path / "big.txt").write_bytes(b"x" * 65537)
    with pytest.raises(SecretError, match="larger than 64 KiB") as caught:
        resolve(SecretRef("file", "big.txt"), tmp_path)
    assert "xxxx" not in str(caught.value)


def test_group_or_world_readable_secret_file_gets_a_warning_once(tmp_path: Path) -> None:
    open_file, private = tmp_path / "open.txt", tmp_path / "private.txt"
    for path in (open_file, private):
        path.write_text("hunter2\n", encoding="utf-8")
    open_file.chmod(0o644)
    private.chmod(0o600)
    warned: list[str] = []
    for _ in range(2):
        assert resolve(SecretRef("file", "open.txt"), tmp_path, warn=warned.append).reveal() == "hunter2"
        resolve(SecretRef("file", "private.txt"), tmp_path, warn=warned.append)
    assert len(warned) == 1
    assert "accessible by group or others (mode 0644)" in warned[0] and "chmod 600" in warned[0]
    assert "hunter2" not in warned[0]


def test_state_dir_is_created_0700_but_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    import os
    import stat

    from poshbridge import history

    old = os.umask(0o022)
    try:
        created = tmp_path / "new" / "state"
        history.append(created, [{"host": "h"}])
        assert stat.S_IMODE(created.stat().st_mode) == 0o700
        existing = tmp_path / "shared"
        existing.mkdir(mode=0o755)
        existing.chmod(0o755)
        history.append(existing, [{"host": "h"}])
        assert stat.S_IMODE(existing.stat().st_mode) == 0o755
    finally:
        os.umask(old)
