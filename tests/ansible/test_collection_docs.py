"""``ansible-doc poshbridge.iis.<module>`` shows each module's documentation, and the documented options
are the ones the action plugins accept (poshbridge.ansible_task.ARGUMENT_SPECS): same names, types,
defaults and choices; every no_log option says it is a secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from collectionkit import MODULES, run

from poshbridge.ansible_task import ARGUMENT_SPECS


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_prints_the_modules_documentation(module: str, tmp_path: Path) -> None:
    shown = run("ansible-doc", f"poshbridge.iis.{module}", home=tmp_path / "home", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"poshbridge.iis.{module}" in text and "OPTIONS" in text and "RETURN VALUES" in text, text
    assert "EXAMPLES" in text and "gather_facts: false" in text
    assert "action plugin" in text  # runs on the controller
    for option in ARGUMENT_SPECS[module]:
        assert re.search(rf"^[-= ]*{option}\s", text, re.MULTILINE), (option, text)
    assert "Missing documentation" not in shown.stderr and "ERROR" not in shown.stderr


def test_documented_options_are_the_argument_specs(tmp_path: Path) -> None:
    names = [f"poshbridge.iis.{m}" for m in MODULES]
    shown = run("ansible-doc", "--json", *names, home=tmp_path / "home", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    docs = json.loads(shown.stdout)
    for module in MODULES:
        doc = docs[f"poshbridge.iis.{module}"]["doc"]
        options = doc["options"]
        spec = ARGUMENT_SPECS[module]
        assert sorted(options) == sorted(spec), module
        for name, wanted in spec.items():
            documented = options[name]
            assert documented["type"] == wanted["type"], (module, name)
            assert documented.get("default") == wanted.get("default"), (module, name)
            assert documented.get("choices") == wanted.get("choices"), (module, name)
            says_secret = "no_log" in json.dumps(documented["description"])
            assert says_secret == bool(wanted.get("no_log")), (module, name)
        assert doc["attributes"]["check_mode"]["support"] == ("none" if module == "renew" else "full")
        assert docs[f"poshbridge.iis.{module}"]["return"], module


def test_the_list_names_the_four_modules(tmp_path: Path) -> None:
    listed = run("ansible-doc", "-l", "poshbridge.iis", home=tmp_path / "home", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines() if line.strip()) == sorted(
        f"poshbridge.iis.{m}" for m in MODULES
    )
