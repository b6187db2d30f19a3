"""The runner: what ``setup``, ``renew``, ``status`` and ``revoke`` do on each host, without any output.

- ``results``: the typed results (:class:`HostRun`, :class:`ErrorInfo`, :class:`FleetRun`) and their JSON.
- ``context``: the run's options and shared state (stop flag, per-host controls, the one scrubber).
- ``session``: the :class:`Session` protocol (what the runner needs of a host connection) and the
  default factory (pypsrp's ``HostSession``).
- ``batches``: sending batches (reads re-run after a throwing statement, one invocation per step),
  the statuses of steps from their own statements, error classification.
- ``template``: the per-host run template (connect, classify, finish) and the runs of hosts that never
  ran (interrupted, crashed).
- ``setup``, ``renew``, ``status``, ``revoke``: the four workers.
- ``desired``: what setup wants on the host (generated files, resolved secrets).
- ``verify``: OCSP wait, IIS binding, TLS check. ``certfiles``/``revocation``: the certificate files
  read for the health model and the replacement of a revoked certificate.
- ``fleet``: all hosts, ``parallel`` at a time, with Ctrl-C/SIGTERM handling (``interrupt``) and the
  history (``history``).
"""
