"""Reading one fleet in each inventory form: CPU per host for the native YAML, an Ansible INI, an Ansible
YAML and the JSON of ``ansible-inventory --list``, at two sizes (linear time shows as a flat per-host
figure), and the cost of ``--shard`` selection.

    python benchmarks/inventory_formats.py [--quick]

The process's own CPU time (time.process_time), best of 3. No target: context figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.table import Row, render
from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.shard import Shard, shard_names


def _native(n: int) -> str:
    names = [f"web{i:05d}" for i in range(n)]
    hosts = "".join(f"  {h}: {{domains: [{h}.example.jp], webroot: 'C:\\w'}}\n" for h in names)
    return (
        "defaults:\n  acme: {contacts: [a@example.jp]}\ngroups:\n  web: {hosts: ["
        + ", ".join(names)
        + "]}\nhosts:\n"
        + hosts
    )


def _ini(n: int) -> str:
    lines = [
        "[all:vars]",
        "poshbridge_acme_contacts=['a@example.jp']",
        "poshbridge_webroot='C:\\\\w'",
        "[web]",
    ]
    lines += [f"web{i:05d} poshbridge_domains=\"['web{i:05d}.example.jp']\"" for i in range(n)]
    return "\n".join(lines) + "\n"


def _yaml(n: int) -> str:
    hosts = "".join(
        f"        web{i:05d}: {{poshbridge_domains: [web{i:05d}.example.jp]}}\n" for i in range(n)
    )
    return (
        "all:\n  vars:\n    poshbridge_acme_contacts: [a@example.jp]\n    poshbridge_webroot: 'C:\\w'\n"
        "  children:\n    web:\n      hosts:\n" + hosts
    )


def _json(n: int) -> str:
    hostvars = {
        f"web{i:05d}": {
            "poshbridge_domains": [f"web{i:05d}.example.jp"],
            "poshbridge_webroot": "C:\\w",
            "poshbridge_acme_contacts": ["a@example.jp"],
        }
        for i in range(n)
    }
    return json.dumps({"_meta": {"hostvars": hostvars}, "web": {"hosts": list(hostvars)}}, indent=4)


def _cpu(action: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return best


def rows(quick: bool = False) -> list[Row]:
    sizes = (200, 1000) if quick else (500, 2500)
    out: list[Row] = []
    forms = {
        "native YAML": (_native, "x.yaml"),
        "Ansible INI": (_ini, "x.ini"),
        "Ansible YAML": (_yaml, "x.yaml"),
    }
    forms["ansible-inventory --list JSON"] = (_json, "x.json")
    for label, (make, source) in forms.items():
        for n in sizes:
            text = make(n)
            inventory = inventory_from_text(text, source)
            assert len(inventory.hosts) == n and not inventory.errors, (label, inventory.errors[:3])
            seconds = _cpu(lambda text=text, source=source: inventory_from_text(text, source))
            out.append(Row(f"read {label}: CPU per host", seconds * 1000 / n, "ms", "", None, f"{n} hosts"))
    names = [f"web{i:05d}.example.jp" for i in range(sizes[-1] * 4)]
    seconds = _cpu(lambda: [shard_names(names, Shard(k, 8)) for k in range(1, 9)])
    out.append(
        Row(
            "--shard: CPU per host per worker",
            seconds * 1e6 / len(names) / 8,
            "us",
            "",
            None,
            f"{len(names)} names",
        )
    )
    return out


def main() -> None:
    print(render(rows(quick="--quick" in sys.argv), title="Inventory forms (process CPU, best of 3)"))


if __name__ == "__main__":
    main()
