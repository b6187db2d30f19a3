"""PowerShell Remoting (MS-PSRP) shells for the lab, on psrpcore's sans-IO server.

One :class:`PSRPShell` per WSMan shell = one runspace pool (one ``wsmprovhost`` on Windows) with one
:class:`~poshbridge.lab.engine.contract.RunspaceState`. Each CREATE_PIPELINE becomes
``statements: list[list[CommandCall]]`` and runs ``invoke(host, runspace, statements, input, sink)``
in a worker thread; the :class:`PipelineSink` hands output and records to psrpcore under the shell's
lock, and the serialized fragments are sorted into per-target queues (the pool, and each pipeline id)
that WSMan Receive requests drain. The pool itself is in ``psrp_pool.py``; a lab error becomes a
psrpcore ErrorRecord in ``psrp_errors.py``.

SecureString: pypsrp 0.9.1 never answers a server's PUBLIC_KEY_REQUEST (its handler is
``lambda m: self.exchange_keys`` - the method is returned, not called), so the lab never asks. A
client that wants SecureString values (e.g. ``PoshACME.PACertificate.PfxPass``) must call
``RunspacePool.exchange_keys()`` after opening the pool; until it has, SecureString values in output
objects are sent as ``$null``. Incoming SecureString parameters arrive as
``psrpcore.types.PSSecureString`` (``.decrypt()`` gives the text) - a client can only send them after
the exchange anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    GetCommandMetadataEvent,
    PipelineInputEvent,
    PSRPEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import (
    ErrorRecord,
    PSInvocationState,
    PSObject,
    PSSecureString,
)

from poshbridge.lab import clixml_compat
from poshbridge.lab.engine.contract import (
    CommandCall,
    LabErrorRecord,
    PipelineSink,
    RunspaceState,
    TerminatingError,
)
from poshbridge.lab.engine.registry import EDITION
from poshbridge.lab.host import TwinHost
from poshbridge.lab.psrp_errors import lab_bug_record, to_error_record
from poshbridge.lab.psrp_pool import CORE, PS_BUILD, LabRunspacePool, application_private_data
from poshbridge.lab.wsman import iso_duration, run_time

log = logging.getLogger(__name__)
clixml_compat.install()  # ToString encoded as PowerShell does (psrpcore 0.3.1 writes it raw)

InvokeFn = Callable[[TwinHost, RunspaceState, list[list[CommandCall]], list[Any], PipelineSink], None]

FRAGMENT_CAP = 32768  # bytes of PSRP fragments per queued chunk (one rsp:Stream element)
COALESCE_SECONDS = 0.05  # a Receive that found data waits this long for the pipeline to finish

# moved to psrp_errors.py / psrp_pool.py; the tests and older callers import them from here
__all__ = [
    "CORE",
    "PS_BUILD",
    "InvokeFn",
    "LabRunspacePool",
    "PSRPShell",
    "ShellRegistry",
    "application_private_data",
    "lab_bug_record",
    "split_statements",
    "to_error_record",
]


def _without_secure_strings(value: Any, depth: int = 0) -> Any:
    """Replace SecureString values by None (used while the client has no session key)."""
    if depth > 20:
        return value
    if isinstance(value, PSSecureString):
        return None
    if isinstance(value, list):
        return [_without_secure_strings(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _without_secure_strings(v, depth + 1) for k, v in value.items()}
    if isinstance(value, PSObject) and not isinstance(value, (str, int, float, bytes)):
        meta = value.PSObject
        for prop in [*meta.adapted_properties, *meta.extended_properties]:
            try:
                current = prop.get_value(value)
            except Exception:  # noqa: S112 - script/alias properties without a value: leave them
                continue
            if isinstance(current, (PSSecureString, PSObject, list, dict)):
                replaced = _without_secure_strings(current, depth + 1)
                if replaced is not current:
                    prop.set_value(replaced, value)
    return value


def split_statements(commands: list[Any]) -> list[list[CommandCall]]:
    """psrpcore Commands -> statements (``add_statement`` marks the last command of each)."""
    statements: list[list[CommandCall]] = []
    current: list[CommandCall] = []
    for command in commands:
        current.append(
            CommandCall(
                name=str(command.command_text),
                is_script=bool(command.is_script),
                parameters=list(command.parameters),
            )
        )
        if command.end_of_statement:
            statements.append(current)
            current = []
    if current:
        statements.append(current)
    return statements


class LabPipeline:
    def __init__(self, shell: PSRPShell, pipeline_id: uuid.UUID) -> None:
        self.shell = shell
        self.pipeline_id = pipeline_id
        self.server = ServerPipeline(shell.pool, pipeline_id)
        self.inputs: list[Any] = []
        self.no_input = True
        self.commands: list[Any] = []
        self.finished = False  # a terminal PIPELINE_STATE is queued
        self.started = False
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.server.state == PSInvocationState.Running


class _NullOutput:
    """Serializes as ``<Nil />``: psrpcore turns a bare ``None`` into an empty PIPELINE_OUTPUT, which
    pypsrp reads as ``''`` instead of ``None``."""

    @classmethod
    def ToPSObjectForRemoting(cls, instance: Any, **kwargs: Any) -> None:
        return None


_NULL_OUTPUT = _NullOutput()


class _Sink:
    """PipelineSink: the engine's worker thread hands records to psrpcore under the shell lock."""

    def __init__(self, shell: PSRPShell, pipeline: LabPipeline) -> None:
        self._shell = shell
        self._pipeline = pipeline

    def _write(self, action: Callable[[ServerPipeline], None]) -> None:
        with self._shell.cond:
            if not self._pipeline.running:
                return  # stopped or closed meanwhile: PowerShell drops writes after Stop as well
            action(self._pipeline.server)
            self._shell._drain()

    def output(self, value: Any) -> None:
        if not self._shell.pool.client_has_session_key:
            value = _without_secure_strings(value)
        if value is None:
            value = _NULL_OUTPUT
        self._write(lambda p: p.write_output(value))

    def error(self, record: LabErrorRecord) -> None:
        error = to_error_record(record)

        def write(p: ServerPipeline) -> None:
            p.write_error(
                error.Exception,
                category_info=error.CategoryInfo,
                target_object=error.TargetObject,
                fully_qualified_error_id=error.FullyQualifiedErrorId,
                invocation_info=error.InvocationInfo,
                pipeline_iteration_info=error.PipelineIterationInfo,
            )

        self._write(write)

    def warning(self, message: str) -> None:
        self._write(lambda p: p.write_warning(message))

    def verbose(self, message: str) -> None:
        self._write(lambda p: p.write_verbose(message))

    def debug(self, message: str) -> None:
        self._write(lambda p: p.write_debug(message))

    def information(self, message_data: Any, source: str, tags: list[str] | None = None) -> None:
        user = self._shell.runspace.user
        self._write(
            lambda p: p.write_information(
                message_data, source, tags=tags, user=user, computer=self._shell.host.name.upper()
            )
        )


class PSRPShell:
    """One runspace pool behind one WSMan shell."""

    def __init__(
        self,
        host: TwinHost,
        shell_id: str,
        invoke: InvokeFn,
        *,
        resource_uri: str,
        owner: str,
        client_ip: str,
        idle_timeout: float,
        input_streams: str,
        output_streams: str,
    ) -> None:
        self.host = host
        self.shell_id = shell_id
        self.invoke = invoke
        self.resource_uri = resource_uri
        self.owner = owner
        self.client_ip = client_ip
        self.idle_timeout = idle_timeout
        self.input_streams = input_streams
        self.output_streams = output_streams
        self.cond = threading.Condition(threading.RLock())
        edition = CORE if resource_uri.rstrip("/").lower().endswith("/powershell.7") else "Desktop"
        self.pool = LabRunspacePool(edition)
        self.runspace = RunspaceState(user=owner.rsplit("\\", 1)[-1] or "certadmin")
        self.runspace.variables[EDITION] = edition
        self.runspace.location = f"C:\\Users\\{self.runspace.user}\\Documents"
        self.queues: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self.pipelines: dict[uuid.UUID, LabPipeline] = {}
        self.closed = False
        self.created = time.monotonic()
        self.last_activity = self.created

    # ----- WSMan-facing operations ----------------------------------------------------------
    def info(self) -> dict[str, str]:
        return {
            "ShellId": self.shell_id,
            "Name": "WinRM1",
            "ResourceUri": self.resource_uri,
            "Owner": self.owner,
            "ClientIP": self.client_ip,
            "ProcessId": str(4000 + uuid.UUID(self.shell_id).int % 4000 if _is_uuid(self.shell_id) else 4242),
            "IdleTimeOut": iso_duration(self.idle_timeout),
            "InputStreams": self.input_streams,
            "OutputStreams": self.output_streams,
            "MaxIdleTimeOut": "PT2147483.647S",
            "Locale": "en-US",
            "DataLocale": "en-US",
            "CompressionMode": "NoCompression",
            "ProfileLoaded": "Yes",
            "Encoding": "UTF8",
            "BufferMode": "Block",
            "State": "Connected",
            "ShellRunTime": run_time(self.created),
            "ShellInactivity": run_time(self.last_activity),
        }

    def open(self, creation_data: bytes) -> None:
        """creationXml: SESSION_CAPABILITY + INIT_RUNSPACEPOOL. The replies wait for the next Receive."""
        with self.cond:
            self.pool.receive_data(PSRPPayload(creation_data, StreamType.default, None))
            self._pump()

    def command(self, command_id: str, first_fragment: bytes) -> None:
        pipeline_id = uuid.UUID(command_id)
        with self.cond:
            self._touch()
            if pipeline_id in self.pipelines:
                raise ValueError(f"a pipeline with id {command_id} already exists")
            # The ServerPipeline must exist before psrpcore processes CREATE_PIPELINE.
            self.pipelines[pipeline_id] = LabPipeline(self, pipeline_id)
            self.queues[pipeline_id] = deque()
            self.pool.receive_data(PSRPPayload(first_fragment, StreamType.default, pipeline_id))
            self._pump()

    def send(self, stream: str, command_id: str | None, data: bytes) -> None:
        stream_type = StreamType.prompt_response if stream == "pr" else StreamType.default
        pipeline_id = uuid.UUID(command_id) if command_id else None
        with self.cond:
            self._touch()
            self.pool.receive_data(PSRPPayload(data, stream_type, pipeline_id))
            self._pump()

    def receive(
        self,
        command_id: str | None,
        max_bytes: int,
        wait: float,
        should_abort: Callable[[], bool],
    ) -> tuple[list[bytes], bool] | None:
        """Chunks for the pool (``command_id`` None) or one pipeline, and whether that pipeline is done.
        None when nothing arrived within ``wait`` seconds (or the caller gave up)."""
        target = uuid.UUID(command_id) if command_id else None
        deadline = time.monotonic() + wait
        with self.cond:
            self._touch()
            while True:
                if self.closed:
                    return None
                queue = self.queues.get(target)
                pipeline = self.pipelines.get(target) if target else None
                if queue is None:
                    # Unknown or already closed pipeline: nothing will ever come.
                    return [], True
                if queue:
                    break
                if pipeline is not None and pipeline.finished:
                    return [], True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or should_abort():
                    return None
                self.cond.wait(min(remaining, 0.2))
            if pipeline is not None and not pipeline.finished:
                # Let a quick pipeline finish so one Receive carries output and state together.
                settle = time.monotonic() + COALESCE_SECONDS
                while not pipeline.finished and sum(map(len, queue)) < max_bytes:
                    remaining = settle - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
            chunks: list[bytes] = []
            size = 0
            while queue and (not chunks or size + len(queue[0]) <= max_bytes):
                chunk = queue.popleft()
                chunks.append(chunk)
                size += len(chunk)
            done = pipeline is not None and pipeline.finished and not queue
            return chunks, done

    def signal(self, command_id: str | None, code: str) -> None:
        name = code.rsplit("/", 1)[-1].lower()
        pipeline_id = uuid.UUID(command_id) if command_id else None
        with self.cond:
            self._touch()
            pipeline = self.pipelines.get(pipeline_id) if pipeline_id else None
            if pipeline is None:
                return
            if name in ("ctrl_c", "crtl_c"):  # Windows' own client spells it crtl_c
                self._stop(pipeline)
            elif name == "terminate":
                self._stop(pipeline)
                if pipeline.server.state != PSInvocationState.Running:
                    pipeline.server.close()
                self.pipelines.pop(pipeline.pipeline_id, None)
                self.queues.pop(pipeline.pipeline_id, None)
            self._drain()

    def close(self) -> None:
        """WSMan Delete (or the listener stopping): stop every pipeline and drop the pool."""
        with self.cond:
            self.runspace.cancel.set()
            for pipeline in list(self.pipelines.values()):
                self._stop(pipeline)
            self.pipelines.clear()
            self.queues.clear()
            self.closed = True
            self.cond.notify_all()

    # ----- internals (call with self.cond held) -----------------------------------------
    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    def _stop(self, pipeline: LabPipeline) -> None:
        if pipeline.server.state == PSInvocationState.Running:
            self.runspace.cancel.set()
            pipeline.server.stop()
            pipeline.finished = True
        elif not pipeline.started and not pipeline.finished:
            pipeline.finished = True

    def _drain(self) -> None:
        while True:
            payload = self.pool.data_to_send(FRAGMENT_CAP)
            if payload is None:
                break
            target = payload.pipeline_id
            queue = self.queues.get(target)
            if queue is None:
                continue  # the pipeline was closed by the client: nobody will read this
            queue.append(payload.data)
        self.cond.notify_all()

    def _pump(self) -> None:
        try:
            while True:
                event = self.pool.next_event()
                if event is None:
                    break
                self._on_event(event)
        finally:
            self._drain()

    def _on_event(self, event: PSRPEvent[Any, Any]) -> None:
        if isinstance(event, CreatePipelineEvent):
            pipeline = self.pipelines[event.pipeline_id]
            metadata = event.pipeline
            pipeline.commands = list(metadata.commands)
            pipeline.no_input = bool(metadata.no_input)
            if pipeline.no_input:
                self._start(pipeline)
        elif isinstance(event, PipelineInputEvent):
            receiver = self.pipelines.get(event.pipeline_id) if event.pipeline_id else None
            if receiver is not None:
                receiver.inputs.append(event.data)
        elif isinstance(event, EndOfPipelineInputEvent):
            ended = self.pipelines.get(event.pipeline_id) if event.pipeline_id else None
            if ended is not None and not ended.started:
                self._start(ended)
        elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent)):
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetAvailableRunspacesEvent):
            busy = sum(1 for p in self.pipelines.values() if p.running)
            self.pool.runspace_availability_response(event.ci, max(0, self.pool.max_runspaces - busy))
        elif isinstance(event, ResetRunspaceStateEvent):
            self.runspace.env.clear()
            self.runspace.variables.clear()
            self.runspace.location = f"C:\\Users\\{self.runspace.user}\\Documents"
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetCommandMetadataEvent):
            metadata_pipeline = self.pipelines.get(event.pipeline_id)
            if metadata_pipeline is not None:
                metadata_pipeline.started = True
                metadata_pipeline.server.start()
                metadata_pipeline.server._change_state(
                    PSInvocationState.Failed,
                    error=to_error_record(
                        LabErrorRecord(
                            message="The poshbridge lab does not implement Get-Command metadata requests.",
                            fully_qualified_error_id="PoshbridgeLabNotImplemented",
                            category="NotImplemented",
                            exception_type="System.NotSupportedException",
                        )
                    ),
                )
                metadata_pipeline.finished = True
        # SessionCapability, InitRunspacePool and PublicKey are answered by psrpcore itself;
        # host responses need no action (the lab makes no host calls).

    def _start(self, pipeline: LabPipeline) -> None:
        pipeline.started = True
        if not any(p.running for p in self.pipelines.values() if p is not pipeline):
            self.runspace.cancel.clear()
        pipeline.server.start()
        statements = split_statements(pipeline.commands)
        thread = threading.Thread(
            target=self._run,
            args=(pipeline, statements),
            name=f"lab-{self.host.name}-pipeline-{str(pipeline.pipeline_id)[:8]}",
            daemon=True,
        )
        pipeline.thread = thread
        thread.start()

    def _run(self, pipeline: LabPipeline, statements: list[list[CommandCall]]) -> None:
        sink = _Sink(self, pipeline)
        failure: ErrorRecord | None = None
        try:
            self.invoke(self.host, self.runspace, statements, list(pipeline.inputs), sink)
        except TerminatingError as exc:
            failure = to_error_record(exc.record)
        except Exception as exc:
            log.exception("lab bug while running a pipeline on %s", self.host.name)
            failure = lab_bug_record(exc, statements)
        with self.cond:
            try:
                if pipeline.server.state == PSInvocationState.Running:
                    if failure is not None:
                        # psrpcore has no public "fail": PIPELINE_STATE Failed + the ErrorRecord.
                        pipeline.server._change_state(PSInvocationState.Failed, error=failure)
                    else:
                        pipeline.server.complete()
            finally:
                pipeline.finished = True
                self._drain()


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class ShellRegistry:
    """The shells of one listener (WSMan ShellId -> PSRPShell), with idle reaping."""

    def __init__(self, host: TwinHost, invoke: InvokeFn) -> None:
        self.host = host
        self.invoke = invoke
        self._lock = threading.Lock()
        self._shells: dict[str, PSRPShell] = {}

    def create(
        self,
        shell_id: str,
        *,
        resource_uri: str,
        owner: str,
        client_ip: str,
        idle_timeout: float,
        input_streams: str,
        output_streams: str,
        creation_data: bytes,
    ) -> PSRPShell:
        self._reap()
        shell = PSRPShell(
            self.host,
            shell_id,
            self.invoke,
            resource_uri=resource_uri,
            owner=owner,
            client_ip=client_ip,
            idle_timeout=idle_timeout,
            input_streams=input_streams,
            output_streams=output_streams,
        )
        shell.open(creation_data)
        with self._lock:
            old = self._shells.pop(shell_id.upper(), None)
            self._shells[shell_id.upper()] = shell
        if old is not None:
            old.close()
        return shell

    def get(self, shell_id: str) -> PSRPShell | None:
        with self._lock:
            return self._shells.get(shell_id.upper())

    def delete(self, shell_id: str) -> bool:
        with self._lock:
            shell = self._shells.pop(shell_id.upper(), None)
        if shell is None:
            return False
        shell.close()
        return True

    def close_all(self) -> None:
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            shell.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._shells)

    def _reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [s for s in self._shells.values() if now - s.last_activity > s.idle_timeout]
            for shell in idle:
                self._shells.pop(shell.shell_id.upper(), None)
        for shell in idle:
            shell.close()
