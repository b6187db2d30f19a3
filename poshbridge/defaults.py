"""The defaults the command line shows in its help, in a module that imports nothing.

Each value belongs to the module that uses it and is re-exported there (retries:
:mod:`poshbridge.remote.retry`; the per-host deadline: :mod:`poshbridge.remote.control`; the expiry
thresholds: :mod:`poshbridge.health.model`). They live here so that building the argument parser
(``poshbridge --help``, ``--version``) loads neither the session layer nor the health model.
"""

from __future__ import annotations

DEFAULT_RETRIES = 2  # retries of a transient failure (connecting, reading), with backoff
DEFAULT_HOST_TIMEOUT = 900.0  # seconds: the deadline of one host's run, the OCSP wait included
DEFAULT_WARN_DAYS = 21  # WARN when the certificate expires within this many days
DEFAULT_CRIT_DAYS = 7  # CRIT when the certificate expires within this many days
