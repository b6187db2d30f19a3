"""The one exception root, ``PoshbridgeError``, and its families.

Every exception class poshbridge defines (outside the lab) derives from :class:`PoshbridgeError`, so a
caller of the library catches everything poshbridge raises on purpose with one ``except`` — and
nothing else: a bug (``TypeError``, ``KeyError``) stays itself. ``tests/unit/test_errors.py`` checks
it for every class in every module. No message carries a secret value: a secret is named by its
reference (``env:WINRM_PASSWORD``), never shown.

The families, and the classes in them (each defined next to the code that raises it; the names are
the ones ``except`` sites have always used):

- :class:`ConfigurationError` — the input cannot be used as it is; fix it and run again:
  ``InventoryError`` (load and validation, every problem with its key path),
  ``YamlTagError``/``YamlValueError`` (the YAML itself; also ``yaml.YAMLError``) in
  ``inventory/load.py``; ``SecretError`` (a secret reference that does not resolve) in
  ``inventory/secrets.py``; ``TargetError`` (targets that name no host or group) in
  ``inventory/targets.py``; ``InsecureConfigError`` (an insecure transport without ``--insecure``;
  also ``ValueError``) in ``remote/outcome.py``.
- :class:`LocalFileError` — a local file poshbridge was pointed at is refused (not a regular file,
  too big): ``FileRefused`` (also ``OSError``) in ``inventory/files.py``.
- :class:`HostError` — reaching or talking to a host failed, ran out of time or was stopped:
  ``RemoteConnectionError`` (``kind`` says how: refused, dns, timeout, auth, tls, protocol, config,
  interrupted...) and ``RemoteInterrupted`` in ``remote/outcome.py``; ``Interrupted`` (SIGINT/SIGTERM)
  and ``HostTimeout`` (the per-host deadline) in ``remote/control.py``; ``UnreadableMessage`` (a PSRP
  message that is not CLIXML) in ``remote/clixml_guard.py``.

The audit raises nothing for a log it cannot read: an unreadable, cut or foreign file is a finding
(WARN with the reason) in the verdict, never an exception.
"""

from __future__ import annotations


class PoshbridgeError(Exception):
    """The root of every exception poshbridge defines."""


class ConfigurationError(PoshbridgeError):
    """The inventory, a secret reference, the targets or a setting cannot be used as they are."""


class LocalFileError(PoshbridgeError):
    """A local file poshbridge was asked to read is refused."""


class HostError(PoshbridgeError):
    """Connecting, authenticating or talking to a host failed, timed out or was stopped."""
