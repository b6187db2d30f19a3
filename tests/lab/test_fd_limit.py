"""The lab daemon opens as many files as its twins need, or says why it cannot.

Given a daemon process whose soft ``ulimit -n`` is 512 (a shell's 1024 is the same story one size up:
200 twins hold 800 listening sockets before the first connection, and accept() then failed with EMFILE
mid-run), when it prepares for 200 twins, then its soft limit is raised to the hard limit; and when the
hard limit itself is too low, start-up is refused with the figure instead of failing hosts at random.
"""

from __future__ import annotations

import resource
import subprocess
import sys

PROBE = """
import resource, sys
from poshbridge.lab.services.daemon import ensure_fd_limit
from poshbridge.lab.services.pebble import ServiceError
try:
    ensure_fd_limit(int(sys.argv[1]))
except ServiceError as exc:
    print("refused:", exc)
print("soft", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def _probe(soft: int, hard: int, twins: int = 200) -> str:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(twins)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_a_low_soft_limit_is_raised_to_the_hard_limit() -> None:
    # Any machine can lower its limits: a hard limit of at most 1024 (the common default) and 20
    # twins (about 336 files) make the same case as 200 twins under a larger hard limit.
    machine_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = 1024 if machine_hard == resource.RLIM_INFINITY else min(machine_hard, 1024)
    out = _probe(64, hard, twins=20)
    assert "refused" not in out
    assert f"soft {hard}" in out


def test_a_hard_limit_below_the_twins_needs_is_refused_with_the_figure() -> None:
    out = _probe(512, 600)
    assert "refused: 200 twins need about 1056 open files" in out
    assert "at most 600" in out
