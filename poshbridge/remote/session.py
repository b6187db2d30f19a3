"""One host's PowerShell Remoting session: a pypsrp WSMan connection and ONE RunspacePool per run.

A :class:`Batch` is sent as ONE PowerShell invocation (one Command and its Receive cycle). To tell
which statement produced which output, a marker ``Write-Output -InputObject '<nonce>:<index>'`` is
added before each statement; the output list is split at the markers, and error/warning/verbose/
information records are attributed to the statement that was running when they arrived (the
messages are processed in wire order).

Results are plain data: complex objects become dicts (adapted + extended properties, plus
``"_types"`` = the PSTypeNames); SecureString values are dropped, never returned; so are the
Posh-ACME account's private ``key``/``sskey`` and any ``PfxPass``.

Secrets (the WinRM password, EAB HMAC, ...) are :class:`Secret` until the moment they are handed
to pypsrp (``add_parameter`` / the WSMan constructor); no message built here contains them.
"""

from __future__ import annotations

import contextlib
import logging
import secrets as _secrets
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import WSManFaultError
from pypsrp.messages import MessageType
from pypsrp.powershell import PowerShell
from pypsrp.shell import SignalCode

from poshbridge.errors import HostError
from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import SWITCH, Batch, Secret, SecureSecret, secrets_in
from poshbridge.remote import clixml_guard, pypsrp_hooks
from poshbridge.remote.control import HostControl, HostTimeout, Interrupted
from poshbridge.remote.convert import DROPPED, _record_text, convert_error, scrub_error, to_plain
from poshbridge.remote.convert import RemoteError as RemoteError  # re-exported: imported from here
from poshbridge.remote.outcome import BatchResult as BatchResult  # the pypsrp-free types, re-exported
from poshbridge.remote.outcome import ConnectionKind as ConnectionKind
from poshbridge.remote.outcome import InsecureConfigError as InsecureConfigError
from poshbridge.remote.outcome import RemoteConnectionError as RemoteConnectionError
from poshbridge.remote.outcome import RemoteInterrupted as RemoteInterrupted
from poshbridge.remote.outcome import StatementResult as StatementResult
from poshbridge.remote.outcome import classify_connection_error as classify_connection_error
from poshbridge.remote.outcome import transport_warnings as transport_warnings
from poshbridge.remote.remote_text import visible
from poshbridge.remote.retry import is_transient
from poshbridge.scrubber import Scrubber

log = logging.getLogger(__name__)

# WSMan requests that only read the server's state: re-sent after a transient failure. Command, Send,
# Signal, Create and Delete are never re-sent (a Create is retried as a whole new connection).
REPOLLABLE_ACTIONS = frozenset({"Receive", "Get"})
CLEANUP_ACTIONS = frozenset({"Delete", "Signal"})  # sent even after the host's deadline passed
STOP_WAIT_SECONDS = 15.0  # after the PSRP stop signal: how long to wait for the Stopped state


# ----- the session ------------------------------------------------------------------------------------


def _resolve_secret(host: HostConfig, base_dir: Path) -> Secret | None:
    ref = host.winrm.password
    if ref is None:
        return None
    from poshbridge.inventory.secrets import resolve

    secret: Secret = resolve(ref, base_dir)
    return secret


def _reveal(value: Any) -> Any:
    if isinstance(value, SecureSecret):
        from pypsrp.serializer import TaggedValue

        return TaggedValue("SS", value.reveal())  # a SecureString, encrypted with the session key
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reveal(v) for v in value]
    return value


class HostSession:
    """Context manager: one pypsrp RunspacePool to ``host`` for the duration of a command run."""

    def __init__(
        self,
        host: HostConfig,
        *,
        insecure: bool = False,
        base_dir: Path = Path(),
        password: Secret | None = None,
        warn: Callable[[str], None] | None = None,
        transport: Any = None,
        control: HostControl | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        """``transport``: carries the WSMan envelopes instead of pypsrp's HTTP transport (tests replay
        recorded Windows answers through it; see :func:`pypsrp_hooks.use_transport`). ``scrubber``: the
        run's one scrubber (:mod:`poshbridge.scrubber`); every secret handed to pypsrp is added to it."""
        self.host = host
        self.control = control or HostControl()
        self.insecure = insecure
        self.base_dir = Path(base_dir)
        self._password = password
        self._warn = warn or (lambda text: print(text, file=sys.stderr))
        self._transport = transport
        self._wsman: Any = None
        self._pool: Any = None
        self._keys_exchanged = False
        self.scrubber = scrubber if scrubber is not None else Scrubber()
        self.batches_sent = 0

    # -- helpers
    def _scrub(self, text: str) -> str:
        return self.scrubber(text)

    def _path(self, value: str) -> str:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (self.base_dir / path))

    def _wsman_kwargs(self) -> dict[str, Any]:
        winrm = self.host.winrm
        for text in transport_warnings(self.host, insecure=self.insecure):
            self._warn(text)
        verify = self._path(winrm.verify) if isinstance(winrm.verify, str) else None
        if verify is not None and not Path(verify).is_file():
            # requests would say "Could not find a suitable TLS CA certificate bundle" mid-connect
            raise RemoteConnectionError(
                "config", self.host.name, f"winrm.verify: CA bundle {verify} not found (not a file)"
            )
        password = self._password if self._password is not None else _resolve_secret(self.host, self.base_dir)
        kwargs: dict[str, Any] = {
            "server": self.host.address,
            "port": winrm.effective_port,
            "ssl": winrm.transport == "https",
            "auth": winrm.auth,
            "username": winrm.username,
            "operation_timeout": winrm.operation_timeout,
            "connection_timeout": winrm.connection_timeout,
            "read_timeout": max(winrm.read_timeout, winrm.operation_timeout + 5),
            "cert_validation": verify if verify is not None else bool(winrm.verify),
            "encryption": "auto",
        }
        if password is not None:
            self.scrubber.add(password)
            kwargs["password"] = password.reveal()
        if winrm.auth == "basic" and winrm.transport == "http":
            kwargs["encryption"] = (
                "never"  # pypsrp cannot encrypt Basic messages; allowed only with --insecure
            )
        if winrm.auth == "certificate":
            if winrm.certificate_pem:
                kwargs["certificate_pem"] = self._path(winrm.certificate_pem)
            if winrm.certificate_key_pem:
                kwargs["certificate_key_pem"] = self._path(winrm.certificate_key_pem)
        return kwargs

    # -- lifecycle
    def __enter__(self) -> HostSession:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        from pypsrp.powershell import RunspacePool
        from pypsrp.wsman import WSMan

        from poshbridge.inventory.secrets import SecretError

        try:
            kwargs = self._wsman_kwargs()
        except InsecureConfigError as exc:
            raise RemoteConnectionError("config", self.host.name, str(exc)) from None
        except SecretError as exc:  # the message names the reference, never a value
            raise RemoteConnectionError("config", self.host.name, f"winrm.password: {exc}") from None
        attempt = 0
        try:
            while True:
                self._guard("connecting")
                try:
                    self._wsman = WSMan(**kwargs)
                    if self._transport is not None:
                        pypsrp_hooks.use_transport(self._wsman, self._transport)
                    self._watch(self._wsman)
                    pool = RunspacePool(self._wsman, configuration_name=self.host.winrm.configuration_name)
                    # SecureStrings must never come back as clear text: pypsrp would decrypt them once
                    # keys are exchanged, so every SecureString is replaced by a marker conversion drops.
                    pypsrp_hooks.guard_secure_strings(pool, DROPPED)
                    clixml_guard.install(pypsrp_hooks.serializer(pool))
                    pool.open()
                    self._pool = pool
                    return
                except RemoteConnectionError:
                    self._close_transport()
                    raise
                except Exception as exc:
                    self._close_transport()
                    if self._may_retry(exc, attempt):
                        attempt += 1
                        self._pause(attempt, "connecting", exc)
                        continue
                    raise self._classify(exc) from None
        finally:
            kwargs.pop("password", None)

    @property
    def ps_edition(self) -> str:
        """``PSEdition`` of the endpoint (``Desktop``: Windows PowerShell 5.1; ``Core``: PowerShell 7, e.g.
        a ``PowerShell.7`` configuration), from the PSVersionTable the pool sends when it opens."""
        data = getattr(getattr(self._pool, "application_private_data", None), "data", None)
        table = data.get("PSVersionTable") if isinstance(data, dict) else None
        edition = table.get("PSEdition") if isinstance(table, dict) else None
        return "Core" if str(edition or "").lower() == "core" else "Desktop"

    def reopen(self) -> None:
        """A new connection and runspace pool (after a transient failure of the old one)."""
        self.close()
        self._keys_exchanged = False
        self.open()

    # -- retries, deadline, stop
    def _guard(self, where: str) -> None:
        try:
            self.control.check(where)
        except (Interrupted, HostTimeout) as exc:
            raise self._classify(exc) from None

    def _may_retry(self, exc: BaseException, attempt: int) -> bool:
        return (
            is_transient(exc)
            and attempt < self.control.policy.retries
            and not self.control.stop.is_set()
            and self.control.remaining() > 1
        )

    def _pause(self, attempt: int, what: str, exc: BaseException) -> None:
        self.control.retried += 1
        log.info("%s: %s: %s, retry %d of %d", self.host.name, what, type(exc).__name__, attempt,
                 self.control.policy.retries)  # fmt: skip
        try:
            self.control.pause(self.control.policy.delay(attempt), f"{what}: {type(exc).__name__}")
        except Interrupted as stopped:
            raise self._classify(stopped) from None

    def _classify(self, exc: BaseException) -> RemoteConnectionError:
        if isinstance(exc, Interrupted):
            return RemoteInterrupted(self.host.name, str(exc))
        if isinstance(exc, HostTimeout):
            return RemoteConnectionError("timeout", self.host.name, str(exc))
        return classify_connection_error(exc, self.host.name, self._scrub)

    def _watch(self, wsman: Any) -> None:
        """Every WSMan request: bounded by the host's deadline, shown while it is waited for, and
        re-sent after a transient failure when it only reads (Receive, Get)."""
        original = wsman.invoke
        transport = wsman.transport
        base_read_timeout = pypsrp_hooks.read_timeout(transport)
        control = self.control

        def invoke(
            action: str,
            resource_uri: str,
            resource: Any,
            option_set: Any = None,
            selector_set: Any = None,
            timeout: int | None = None,
            *,
            retries_on_read_timeout: int = 0,
        ) -> Any:
            name = action.rsplit("/", 1)[-1]
            if name in CLEANUP_ACTIONS:  # closing the shell / stopping: even past the deadline, briefly
                pypsrp_hooks.set_read_timeout(transport, min(base_read_timeout, 10.0))
                begun = time.monotonic()
                try:
                    return original(action, resource_uri, resource, option_set, selector_set, timeout)
                finally:
                    log.debug("%s: WSMan %s %.3f s", self.host.name, name, time.monotonic() - begun)
            attempt = 0
            while True:
                if control.remaining() <= 0:
                    raise HostTimeout(control.host_timeout, f"{control.phase} ({name})")
                pypsrp_hooks.set_read_timeout(transport, control.bounded(base_read_timeout))
                begun = time.monotonic()
                try:
                    with control.waiting(name):
                        answer = original(action, resource_uri, resource, option_set, selector_set, timeout)
                    log.debug("%s: WSMan %s %.3f s", self.host.name, name, time.monotonic() - begun)
                    return answer
                except Exception as exc:
                    log.debug("%s: WSMan %s failed after %.3f s: %s", self.host.name, name,
                              time.monotonic() - begun, type(exc).__name__)  # fmt: skip
                    if control.remaining() <= 0 and is_transient(exc):
                        raise HostTimeout(control.host_timeout, f"{control.phase} ({name})") from None
                    if name not in REPOLLABLE_ACTIONS or not self._may_retry(exc, attempt):
                        raise
                    attempt += 1
                    log.info("%s: WSMan %s: %s, retry %d of %d", self.host.name, name, type(exc).__name__,
                             attempt, control.policy.retries)  # fmt: skip
                    pypsrp_hooks.forget_encryption(transport)  # a new connection authenticates again
                    control.retried += 1
                    control.pause(control.policy.delay(attempt), f"{name}: {type(exc).__name__}")

        wsman.invoke = invoke

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):  # closing a broken pool: nothing more to do
                pool.close()
        self._close_transport()

    def _close_transport(self) -> None:
        wsman, self._wsman = self._wsman, None
        if wsman is not None:
            with contextlib.suppress(Exception):
                wsman.close()

    # -- running
    def run(self, batch: Batch, *, idempotent: bool = False) -> BatchResult:
        """Send ``batch`` as one invocation; return per-statement output and records.

        ``idempotent``: the batch only reads, so after a transient failure it is sent again on a new
        connection. A batch that changes the host is never re-sent (the caller re-reads and re-plans).
        A stop request (Ctrl-C) starts no new batch and stops a running one with the PSRP stop signal."""
        if self._pool is None:
            raise RemoteConnectionError("protocol", self.host.name, "session is not open")
        if not batch.statements:
            return BatchResult()
        attempt = 0
        while True:
            self._guard(self.control.phase)
            try:
                return self._run_once(batch)
            except _Transient as failed:
                if not idempotent or not self._may_retry(failed.exc, attempt):
                    error = self._classify(failed.exc)
                    error.transient = True
                    raise error from None
                attempt += 1
                self._pause(attempt, "reading", failed.exc)
                self.reopen()

    def _run_once(self, batch: Batch) -> BatchResult:
        for secret in secrets_in([value for s in batch.statements for c in s.cmds for _k, value in c.params]):
            # a cmdlet may echo a bound value in its error text (a binding error, an ACME message)
            self.scrubber.add(secret)
        if log.isEnabledFor(logging.DEBUG):
            for index, statement in enumerate(batch.statements):
                # Cmd.render masks every Secret; the scrubber catches a value passed as plain text
                text = self._scrub(statement.render())
                log.debug("%s: send [%d] %s: %s", self.host.name, index, statement.label, text)
        values = [value for s in batch.statements for c in s.cmds for _k, value in c.params]
        if any(isinstance(v, SecureSecret) for v in values) and not self._keys_exchanged:
            try:  # a SecureString parameter needs the session key (PSRP public key exchange)
                self._pool.exchange_keys()
            except Exception as exc:
                raise classify_connection_error(exc, self.host.name, self._scrub) from None
            self._keys_exchanged = True
        nonce = "pb" + _secrets.token_hex(8)
        ps = _TrackedPowerShell(self._pool, nonce, self.control.stop.is_set)
        for index, statement in enumerate(batch.statements):
            ps.add_cmdlet("Write-Output").add_parameter("InputObject", f"{nonce}:{index}")
            ps.add_statement()
            for cmd in statement.cmds:
                if cmd.is_script:  # a fixed constant of poshbridge.powershell.fixed (no values)
                    ps.add_script(cmd.name)
                    continue
                ps.add_cmdlet(cmd.name)
                for key, value in cmd.params:
                    if value is SWITCH:
                        ps.add_parameter(key)
                    else:
                        ps.add_parameter(key, _reveal(value))
            ps.add_statement()
        try:
            ps.invoke()
        except (Interrupted, HostTimeout) as exc:
            raise self._classify(exc) from None
        except clixml_guard.UnreadableMessage as exc:
            raise RemoteConnectionError("protocol", self.host.name, str(exc)) from None
        except Exception as exc:
            if clixml_guard.is_unparsed_message_error(exc):
                raise RemoteConnectionError(
                    "protocol", self.host.name, "the host sent a PSRP message that is not well-formed XML"
                ) from None
            if is_transient(exc):
                raise _Transient(exc) from None
            raise self._classify(exc) from None
        finally:
            ps.clear_commands()  # the revealed parameter values go with it
        self.batches_sent += 1
        if ps.stop_sent:
            raise RemoteInterrupted(
                self.host.name,
                f"interrupted while {self.control.phase}: the running statements were stopped on the host"
                f" ({'Stopped' if ps.state == PSInvocationState.STOPPED else 'no Stopped state seen'})",
            )
        return self._result(batch, ps)

    def _result(self, batch: Batch, ps: _TrackedPowerShell) -> BatchResult:
        statements = [StatementResult(label=s.label) for s in batch.statements]
        current = -1
        for value in ps.output:
            if isinstance(value, str) and value.startswith(ps.nonce + ":"):
                try:
                    current = int(value.split(":", 1)[1])
                except ValueError:
                    current = -1
                if 0 <= current < len(statements):
                    statements[current].ran = True
                continue
            plain = to_plain(value)
            if plain is DROPPED or not (0 <= current < len(statements)):
                continue
            statements[current].output.append(plain)
        result = BatchResult(statements=statements, had_errors=bool(ps.had_errors))
        errors = list(ps.streams.error)
        owners = ps.owners["error"]
        for position, record in enumerate(errors):
            owner = owners[position] if position < len(owners) else ps.current
            terminating = bool(ps.had_errors) and position == len(errors) - 1 and ps.state_error_seen
            error = convert_error(record, terminating=terminating, statement=owner if owner >= 0 else None)
            scrub_error(error, lambda text: visible(self._scrub(text)))
            result.errors.append(error)
            if 0 <= owner < len(statements):
                statements[owner].errors.append(error)
        for stream in ("warning", "verbose", "information"):
            records = list(getattr(ps.streams, stream))
            stream_owners = ps.owners[stream]
            for position, record in enumerate(records):
                text = visible(self._scrub(_record_text(record)))
                getattr(result, "warnings" if stream == "warning" else stream).append(text)
                owner = stream_owners[position] if position < len(stream_owners) else ps.current
                if 0 <= owner < len(statements):
                    target = statements[owner]
                    getattr(target, "warnings" if stream == "warning" else stream).append(text)
        if ps.had_errors:
            result.failed_statement = ps.current if ps.current >= 0 else 0
        return result


class _Transient(HostError):
    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


class _TrackedPowerShell(PowerShell):
    """PowerShell that remembers, for every record, the statement running when it arrived, and that
    stops the pipeline on the host (PSRP stop signal) when ``stop_requested`` turns true."""

    def __init__(self, pool: Any, nonce: str, stop_requested: Callable[[], bool] = lambda: False) -> None:
        super().__init__(pool)
        self.stop_requested = stop_requested
        self.stop_sent = False
        self.stop_deadline = 0.0
        self.nonce = nonce
        self.current = -1
        self.state_error_seen = False
        self.owners: dict[str, list[int]] = {s: [] for s in ("error", "warning", "verbose", "information")}

    def poll_invoke(self, timeout: int | None = None) -> None:
        self._stop_if_requested()
        try:
            responses = pypsrp_hooks.receive(self.runspace_pool, self.id, timeout)
        except WSManFaultError as err:
            if err.code == pypsrp_hooks.OPERATION_TIMEOUT_FAULT:  # poll again (as pypsrp does)
                responses = []
            else:
                raise
        state_owner = self.current
        for message_type, payload in responses:
            if message_type == MessageType.PIPELINE_OUTPUT:
                value = pypsrp_hooks.output_value(payload)
                self.output.append(value)
                if isinstance(value, str) and value.startswith(self.nonce + ":"):
                    with contextlib.suppress(ValueError):
                        self.current = int(value.split(":", 1)[1])
            elif message_type in _STREAM_OF:
                self.owners[_STREAM_OF[message_type]].append(self.current)
            elif message_type == MessageType.PIPELINE_STATE:
                state_owner = self.current
        # pypsrp appended every record of this Receive before we see the messages; the only records
        # not matched to an ERROR_RECORD message come with the (terminal) PIPELINE_STATE.
        while len(self.owners["error"]) < len(self.streams.error):
            self.owners["error"].append(state_owner)
            self.state_error_seen = True

    def _stop_if_requested(self) -> None:
        """The first poll after a stop request sends the PSRP stop signal (WSMan Signal with the
        PowerShell ctrl_c code, as pypsrp's ``PowerShell.stop``) and keeps polling for the Stopped
        state; a host that does not answer in time is left behind."""
        import time

        if self.stop_sent:
            if time.monotonic() > self.stop_deadline:
                raise Interrupted("waiting for the host to stop the running statements")
            return
        if not self.stop_requested() or self.state != PSInvocationState.RUNNING:
            return
        self.stop_sent = True
        self.stop_deadline = time.monotonic() + STOP_WAIT_SECONDS
        self.runspace_pool.shell.signal(SignalCode.PS_CTRL_C, str(self.id).upper())


_STREAM_OF = {
    MessageType.ERROR_RECORD: "error",
    MessageType.WARNING_RECORD: "warning",
    MessageType.VERBOSE_RECORD: "verbose",
    MessageType.INFORMATION_RECORD: "information",
}
