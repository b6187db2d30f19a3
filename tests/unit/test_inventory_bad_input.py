"""Bad inventory input: a located error, no traceback, never a value from the file in a message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poshbridge.inventory.load import inventory_from_text, read_inventory
from poshbridge.inventory.validate import FIELD_CHECKS, build_inventory, normalize_fqdn

REPO = Path(__file__).resolve().parents[2]
MARK = "S3cr3tMark"

VALID: dict[str, Any] = {
    "defaults": {
        "winrm": {"username": "CONTOSO\\certadmin", "password": {"env": "PW"}},
        "acme": {"contacts": ["admin@example.jp"]},
    },
    "groups": {"web": {"hosts": ["host01"]}},
    "hosts": {"host01": {"address": "web01.example.jp", "domains": ["example.jp"], "webroot": "C:\\w"}},
}


def messages(text: str) -> list[str]:
    return [p.message + " " + p.path for p in inventory_from_text(text).problems]


# ----- the reported cases ---------------------------------------------------------------------------


def test_a_file_that_is_not_a_mapping_is_not_printed_back(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text(f"root:x:0:0:{MARK}:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\n")
    problems = read_inventory(passwd).problems
    expected = "must be a mapping (with defaults, groups and hosts), not a text"
    assert [p.message for p in problems] == [expected]
    for text in (f"- {MARK}\n- b\n", f"{MARK}\n", f"'{MARK}'", "12345"):
        found = messages(text)
        assert found and all(MARK not in m and "12345" not in m for m in found), found


@pytest.mark.parametrize(
    "tagged",
    [f"!!int {MARK}", f"!!binary {MARK}", f"!!python/object:os.system {MARK}", f"!custom {MARK}", "!!int 12"],
)
def test_yaml_tags_are_a_located_error_without_the_value(tagged: str) -> None:
    text = f"hosts:\n  host01:\n    winrm:\n      password: {tagged}\n"
    problems = inventory_from_text(text).problems
    assert len(problems) == 1
    assert problems[0].path == "hosts.host01.winrm.password"
    assert "explicit YAML tag (line 4)" in problems[0].message
    assert MARK not in problems[0].message and "12" not in problems[0].message.replace("line 4", "")


def test_a_secret_written_as_a_mapping_is_not_echoed() -> None:
    found = messages("hosts:\n  host01: {winrm: {password: {" + MARK + "}}}\n")
    assert any("a secret reference must be {env: NAME} or {file: PATH}" in m for m in found)
    assert not any(MARK in m for m in found)


def test_yaml_syntax_errors_do_not_quote_the_file() -> None:
    for text in (f'a: "{MARK}', f"a: [{MARK}", f"a:\n\t- {MARK}", f"a: *{MARK}"):
        found = messages(text)
        assert found and found[0].startswith("not valid YAML (line "), found
        assert not any(MARK in m for m in found), found


def test_recursive_anchors_and_alias_bombs_are_errors_not_a_crash_or_a_hang() -> None:
    assert messages("x: &a [*a]\n")[0] == "unknown key 'x' in the inventory (top level) x"
    found = messages("hosts: {h: {domains: &d [*d], address: &m {k: *m}}}\n")
    assert "must be an FQDN, not a list hosts.h.domains[0]" in found
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    found = messages("\n".join(lines) + "\nhosts: {h: {domains: *a9}}\n")  # 9**9 paths if expanded
    assert len(found) < 100 and any("domains[0]" in m for m in found)
    assert messages("a: " + "[" * 5000 + "]" * 5000 + "\n")[0].startswith("not valid YAML")


@pytest.mark.parametrize(
    ("text", "path", "what"),
    [
        ('hosts:\n  host01: {address: "web\\ud800"}\n', "hosts.host01.address", "lone surrogate (U+D800)"),
        ('hosts:\n  host01: {address: "web\\uFDD0"}\n', "hosts.host01.address", "noncharacter (U+FDD0)"),
        ('hosts:\n  host01: {domains: ["a\\U0001FFFE.jp"]}\n', "hosts.host01.domains[0]", "(U+1FFFE)"),
        ('hosts:\n  "h\\udc80": {}\n', "hosts", "a key contains a lone surrogate (U+DC80)"),
    ],
)
def test_lone_surrogates_and_noncharacters_are_rejected_with_the_key_path(
    text: str, path: str, what: str
) -> None:
    problems = inventory_from_text(text).problems
    assert [(p.path, what in p.message) for p in problems] == [(path, True)]
    str(problems[0]).encode("utf-8")  # printable: the character itself is never in the message


# ----- domains: IDNA 2008 / UTS #46 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ascii_name"),
    [
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2003 would have made it strasse.de
        ("例え.jp", "xn--r8jz45g.jp"),
        ("ＥＸＡＭＰＬＥ.jp", "example.jp"),
        ("XN--ZCA.de", "xn--zca.de"),
        ("*.example.jp", "*.example.jp"),
        ("Example.JP.", "example.jp"),
    ],
)
def test_idna_2008_names(name: str, ascii_name: str) -> None:
    assert normalize_fqdn(name) == (ascii_name, "")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("exam\u200bple.jp", "invisible format character (U+200B"),
        ("exam\u200dple.jp", "invisible format character (U+200D"),
        ("\ufeffexample.jp", "invisible format character (U+FEFF"),
        ("exam\u00adple.jp", "invisible format character (U+00AD"),
        ("xn--abc.jp", "label 1 is an A-label (xn--) that does not decode"),
        ("www.xn--ls8h.jp", "label 2 is an A-label"),
        ("xn--zz-.jp", "label 1 is an A-label"),
        ("a_b.jp", "label 1 is not a valid"),
        ("a..jp", "empty label (label 2)"),
    ],
)
def test_bad_names_are_rejected_without_quoting_them(name: str, reason: str) -> None:
    ascii_name, why = normalize_fqdn(name)
    assert ascii_name is None and reason in why, why
    assert name.strip("\ufeff") not in why


# ----- property: no value ever reaches a message --------------------------------------------------------

_values = st.one_of(
    st.text(max_size=12).map(lambda t: f"{MARK}{t}"),
    st.text(max_size=12).map(lambda t: f"{t}{MARK}@{MARK}"),
    st.lists(st.text(max_size=5).map(lambda t: MARK + t), min_size=1, max_size=3),
    st.dictionaries(
        st.sampled_from([MARK, "env", "file", MARK + "x"]), st.just(MARK), min_size=1, max_size=2
    ),
    st.sampled_from([987654321, 98765, 4321987]),
    st.sampled_from([f"xn--{MARK}.jp", f"{MARK}\u200b.jp", f"C:\\{MARK}", f"P{MARK}D", f"*.{MARK}.jp"]),
)
_sections = st.sampled_from([(s, k) for s, checks in FIELD_CHECKS.items() for k in checks])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    placements=st.lists(
        st.tuples(st.sampled_from(["defaults", "group", "host"]), _sections, _values), min_size=1, max_size=4
    ),
    host_value=st.tuples(st.sampled_from(["address", "domains", "webroot"]), _values),
    member=_values,
)
def test_no_message_contains_a_value(
    placements: list[tuple[str, tuple[str, str], Any]], host_value: tuple[str, Any], member: Any
) -> None:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(VALID))
    for where, (section, key), value in placements:
        if where == "defaults":
            target = data["defaults"]
        elif where == "group":
            target = data["groups"]["web"].setdefault("vars", {})
        else:
            target = data["hosts"]["host01"]
        target.setdefault(section, {})[key] = value
    data["hosts"]["host01"][host_value[0]] = host_value[1]
    data["groups"]["web"]["hosts"] = ["host01", member]
    inventory = build_inventory(data)
    assert inventory.problems
    for problem in inventory.problems:
        assert MARK not in problem.message, str(problem)
        assert not any(n in problem.message for n in ("98765", "4321987")), str(problem)


# ----- the command line: no traceback, no echo --------------------------------------------------------------


def test_check_on_a_non_mapping_and_a_tag_prints_no_value_and_no_traceback(tmp_path: Path) -> None:
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(f"hosts:\n  host01:\n    winrm: {{password: !!int {MARK}}}\n")
    plain = tmp_path / "plain.txt"
    plain.write_text(f"root:x:0:0:{MARK}:/root\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for path in (tagged, plain):
        done = subprocess.run(
            [sys.executable, "-m", "poshbridge", "-i", str(path), "check"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done
        assert MARK not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert "error" in done.stdout


def test_an_inventory_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "inventory.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        problems = read_inventory(path).problems
        assert len(problems) == 1 and "not a regular file" in problems[0].message, problems
