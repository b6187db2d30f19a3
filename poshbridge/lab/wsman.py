"""WS-Management (MS-WSMV) for the lab: SOAP envelopes in and out, and the shell actions PSRP uses.

Only what a PowerShell Remoting client needs is emulated: Create (a runspace pool shell), Command (a
pipeline), Send, Receive (blocking until data or the operation timeout, then the standard
``w:TimedOut`` fault that clients re-poll on), Signal (ctrl_c / crtl_c / Terminate), Delete, and Get
(shell state, and the service config's ``MaxEnvelopeSizekb``). Anything else is answered with an
``ActionNotSupported`` fault. Every response echoes the request's MessageID in ``RelatesTo``.

This module is transport-free: :class:`WSManService` takes a parsed :class:`WSManRequest` and returns
the response bytes or raises :class:`WSManFault`; ``lab.server`` owns HTTP, auth and fault injection.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from poshbridge.lab.psrp import PSRPShell, ShellRegistry

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
# The same prefixes pypsrp registers, so registering them here never changes what the client writes.
for _prefix, _uri in NS.items():
    if _prefix != "xml":
        ET.register_namespace(_prefix, _uri)

_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTION_CREATE = _TRANSFER + "Create"
ACTION_DELETE = _TRANSFER + "Delete"
ACTION_GET = _TRANSFER + "Get"
ACTION_COMMAND = _SHELL + "Command"
ACTION_SEND = _SHELL + "Send"
ACTION_RECEIVE = _SHELL + "Receive"
ACTION_SIGNAL = _SHELL + "Signal"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
# Microsoft.PowerShell: Windows PowerShell 5.1 (the default endpoint); PowerShell.7: the endpoint
# Enable-PSRemoting registers in PowerShell 7 (lab.psrp gives it PowerShell 7's behaviour where the
# client depends on it: file encodings).
SUPPORTED_CONFIGURATIONS = ("Microsoft.PowerShell", "PowerShell.7")
SHELL_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CONFIG_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
COMMAND_STATE_DONE = _SHELL + "CommandState/Done"
COMMAND_STATE_RUNNING = _SHELL + "CommandState/Running"

MAX_ENVELOPE_SIZE_KB = 500  # the Windows Server 2012+ default
DEFAULT_ENVELOPE_SIZE = 153600
# WSMan fault codes (winerror.h ERROR_WSMAN_*), as Windows puts them in WSManFault/@Code.
CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029
CODE_SHELL_NOT_FOUND = 2150858843  # 0x8033805B, ERROR_WSMAN_UNEXPECTED_SELECTORS / shell gone
CODE_RESOURCE_NOT_FOUND = 2150858752  # 0x80338000
CODE_INVALID_ACTION = 2150858753  # 0x80338001, ERROR_WSMAN_INVALID_ACTIONURI
CODE_INTERNAL_ERROR = 2147500037  # 0x80004005 E_FAIL
CODE_BAD_REQUEST = 2150858817  # 0x80338041 ERROR_WSMAN_BAD_METHOD (malformed request)

TIMEOUT_MESSAGE = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
)


class WSManFault(Exception):
    """A SOAP fault: HTTP 500 with ``s:Fault`` and a ``WSManFault`` detail."""

    def __init__(
        self,
        subcode: str,
        code: int,
        message: str,
        *,
        value: str = "s:Receiver",
        http_status: int = 500,
    ) -> None:
        super().__init__(message)
        self.subcode = subcode
        self.code = code
        self.message = message
        self.value = value
        self.http_status = http_status


def timed_out_fault() -> WSManFault:
    return WSManFault("w:TimedOut", CODE_OPERATION_TIMEOUT, TIMEOUT_MESSAGE)


def internal_error_fault(message: str) -> WSManFault:
    return WSManFault("w:InternalError", CODE_INTERNAL_ERROR, message)


def action_not_supported_fault(action: str) -> WSManFault:
    return WSManFault(
        "a:ActionNotSupported",
        CODE_INVALID_ACTION,
        f"The WS-Management service cannot process the request. The action {action} is not supported "
        "by this lab (it emulates Create, Command, Send, Receive, Signal, Delete and Get).",
        value="s:Sender",
    )


def shell_not_found_fault(shell_id: str) -> WSManFault:
    return WSManFault(
        "w:InvalidSelectors",
        CODE_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was "
        "not found on the server. Possible causes are: the specified ShellId is incorrect or the shell "
        "no longer exists on the server. Provide the correct ShellId or create a new shell and retry "
        "the operation.",
        value="s:Sender",
    )


def resource_not_found_fault(resource_uri: str) -> WSManFault:
    return WSManFault(
        "w:DestinationUnreachable",
        CODE_RESOURCE_NOT_FOUND,
        "The WS-Management service cannot process the request because the resource URI "
        f"{resource_uri} was not found (the lab serves the Microsoft.PowerShell and PowerShell.7 "
        "configurations).",
        value="s:Sender",
    )


def bad_request_fault(message: str) -> WSManFault:
    return WSManFault("w:InvalidMessageInformationHeader", CODE_BAD_REQUEST, message, value="s:Sender")


@dataclass
class WSManRequest:
    action: str
    message_id: str
    resource_uri: str
    to: str
    max_envelope_size: int
    operation_timeout: float  # seconds
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None  # first child of s:Body

    @property
    def short_action(self) -> str:
        return self.action.rsplit("/", 1)[-1]

    @property
    def shell_id(self) -> str | None:
        for name, value in self.selectors.items():
            if name.lower() == "shellid":
                return value
        return None


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str | None, default: float) -> float:
    """``PT20S`` / ``PT20.000S`` / ``PT1M30S`` -> seconds (xs:duration without years/months)."""
    if not text:
        return default
    match = _DURATION.match(text.strip())
    if not match:
        return default
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def parse_request(data: bytes) -> WSManRequest:
    """Parse a SOAP request envelope. Raises :class:`WSManFault` for anything malformed."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - authenticated loopback peer, no DTDs used by WSMan
    except ET.ParseError as exc:
        raise bad_request_fault(f"The request is not well-formed XML: {exc}") from None
    if root.tag != _q("s", "Envelope"):
        raise bad_request_fault("The request is not a SOAP 1.2 envelope.")
    header = root.find("s:Header", NS)
    if header is None:
        raise bad_request_fault("The SOAP envelope has no header.")

    header_element: ET.Element = header

    def text(path: str) -> str:
        element = header_element.find(path, NS)
        return (element.text or "").strip() if element is not None else ""

    message_id = text("wsa:MessageID")
    action = text("wsa:Action")
    if not action:
        raise bad_request_fault("The request has no wsa:Action header.")
    try:
        max_envelope = int(text("wsman:MaxEnvelopeSize") or DEFAULT_ENVELOPE_SIZE)
    except ValueError:
        max_envelope = DEFAULT_ENVELOPE_SIZE
    selector_path = "wsman:SelectorSet/wsman:Selector"
    selectors = {s.get("Name", ""): (s.text or "") for s in header.findall(selector_path, NS)}
    options = {o.get("Name", ""): (o.text or "") for o in header.findall("wsman:OptionSet/wsman:Option", NS)}
    body = root.find("s:Body", NS)
    first = body[0] if body is not None and len(body) else None
    return WSManRequest(
        action=action,
        message_id=message_id,
        resource_uri=text("wsman:ResourceURI"),
        to=text("wsa:To"),
        max_envelope_size=max(max_envelope, 8192),
        operation_timeout=parse_duration(text("wsman:OperationTimeout"), 60.0),
        selectors=selectors,
        options=options,
        body=first,
    )


def build_envelope(action: str, relates_to: str, body: list[ET.Element] | None = None) -> bytes:
    envelope = ET.Element(_q("s", "Envelope"))
    header = ET.SubElement(envelope, _q("s", "Header"))
    ET.SubElement(header, _q("wsa", "Action")).text = action
    ET.SubElement(header, _q("wsa", "MessageID")).text = "uuid:" + str(uuid.uuid4()).upper()
    ET.SubElement(header, _q("wsa", "To")).text = ANONYMOUS
    ET.SubElement(header, _q("wsa", "RelatesTo")).text = relates_to
    body_element = ET.SubElement(envelope, _q("s", "Body"))
    for child in body or []:
        body_element.append(child)
    return bytes(ET.tostring(envelope, encoding="utf-8", xml_declaration=False))


def build_fault(fault: WSManFault, relates_to: str, machine: str = "localhost") -> bytes:
    """The fault as Windows writes it. A string template, so the ``w:``/``a:`` QName prefixes in the
    subcode text are declared on the envelope whatever ElementTree's prefix map says."""
    message = escape(fault.message)
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["wsa"]}" xmlns:w="{NS["wsman"]}" '
        f'xmlns:f="{NS["wsmanfault"]}" xml:lang="en-US">'
        "<s:Header>"
        "<a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        "<s:Body><s:Fault>"
        f"<s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{fault.code}" Machine="{escape(machine)}">'
        f"<f:Message>{message}</f:Message></f:WSManFault></s:Detail>"
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


@dataclass
class RequestContext:
    """What the HTTP side knows about the caller."""

    user: str
    client_ip: str
    endpoint: str  # the URL the client addressed (wsa:To), echoed in ResourceCreated
    should_abort: Callable[[], bool] = lambda: False  # the listener is stopping or the client is gone


class WSManService:
    """Dispatch WSMan actions to the PSRP shells of one listener."""

    def __init__(self, shells: ShellRegistry, *, machine: str, receive_wait_cap: float = 1.0) -> None:
        self.shells = shells
        self.machine = machine
        # Receive waits at most this long before the OperationTimeout fault (the client re-polls); real
        # Windows waits the whole OperationTimeout, the lab keeps it short so idle connections turn over.
        self.receive_wait_cap = receive_wait_cap

    def handle(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        """Return the response envelope; raise :class:`WSManFault` for a fault response."""
        handlers: dict[str, Callable[[WSManRequest, RequestContext], bytes]] = {
            ACTION_CREATE: self._create,
            ACTION_COMMAND: self._command,
            ACTION_SEND: self._send,
            ACTION_RECEIVE: self._receive,
            ACTION_SIGNAL: self._signal,
            ACTION_DELETE: self._delete,
            ACTION_GET: self._get,
        }
        handler = handlers.get(request.action)
        if handler is None:
            raise action_not_supported_fault(request.action)
        return handler(request, ctx)

    # ----- helpers --------------------------------------------------------------------------
    def _reply(self, request: WSManRequest, action: str, body: list[ET.Element] | None = None) -> bytes:
        return build_envelope(action, request.message_id, body)

    def _check_powershell_uri(self, request: WSManRequest) -> str:
        uri = request.resource_uri
        if not uri.startswith(POWERSHELL_URI_PREFIX):
            raise resource_not_found_fault(uri)
        configuration = uri[len(POWERSHELL_URI_PREFIX) :]
        if configuration.lower() not in (c.lower() for c in SUPPORTED_CONFIGURATIONS):
            raise resource_not_found_fault(uri)
        return uri

    def _shell(self, request: WSManRequest) -> PSRPShell:
        shell_id = request.shell_id
        if not shell_id:
            raise bad_request_fault("The request has no ShellId selector.")
        shell = self.shells.get(shell_id)
        if shell is None:
            raise shell_not_found_fault(shell_id)
        return shell

    @staticmethod
    def _b64(text: str | None) -> bytes:
        try:
            return base64.b64decode((text or "").strip(), validate=False)
        except (ValueError, TypeError) as exc:
            raise bad_request_fault(f"Invalid base64 payload: {exc}") from None

    # ----- actions --------------------------------------------------------------------------
    def _create(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        uri = self._check_powershell_uri(request)
        shell_el = request.body
        if shell_el is None or shell_el.tag != _q("rsp", "Shell"):
            raise bad_request_fault("Create needs an rsp:Shell body.")
        shell_id = (shell_el.get("ShellId") or str(uuid.uuid4())).upper()
        creation = shell_el.find("pwsh:creationXml", NS)
        if creation is None:
            creation = next((c for c in shell_el.iter() if c.tag.endswith("creationXml")), None)
        if creation is None or not (creation.text or "").strip():
            raise bad_request_fault("Create of a PowerShell shell needs creationXml.")
        idle_el = shell_el.find("rsp:IdleTimeOut", NS)
        idle = parse_duration(idle_el.text if idle_el is not None else None, 7200.0)
        input_streams = _text(shell_el.find("rsp:InputStreams", NS)) or "stdin pr"
        output_streams = _text(shell_el.find("rsp:OutputStreams", NS)) or "stdout"
        shell = self.shells.create(
            shell_id,
            resource_uri=uri,
            owner=ctx.user,
            client_ip=ctx.client_ip,
            idle_timeout=idle,
            input_streams=input_streams,
            output_streams=output_streams,
            creation_data=self._b64(creation.text),
        )
        created = ET.Element(_q("wst", "ResourceCreated"))
        ET.SubElement(created, _q("wsa", "Address")).text = request.to or ctx.endpoint
        refs = ET.SubElement(created, _q("wsa", "ReferenceParameters"))
        ET.SubElement(refs, _q("wsman", "ResourceURI")).text = uri
        selector_set = ET.SubElement(refs, _q("wsman", "SelectorSet"))
        ET.SubElement(selector_set, _q("wsman", "Selector"), Name="ShellId").text = shell.shell_id
        return self._reply(request, ACTION_CREATE + "Response", [created, self._shell_element(shell)])

    def _shell_element(self, shell: PSRPShell) -> ET.Element:
        info = shell.info()
        element = ET.Element(_q("rsp", "Shell"))
        for name in (
            "ShellId",
            "Name",
            "ResourceUri",
            "Owner",
            "ClientIP",
            "ProcessId",
            "IdleTimeOut",
            "InputStreams",
            "OutputStreams",
            "MaxIdleTimeOut",
            "Locale",
            "DataLocale",
            "CompressionMode",
            "ProfileLoaded",
            "Encoding",
            "BufferMode",
            "State",
            "ShellRunTime",
            "ShellInactivity",
        ):
            if name in info:
                ET.SubElement(element, _q("rsp", name)).text = info[name]
        return element

    def _command(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        shell = self._shell(request)
        cmd = request.body
        if cmd is None or cmd.tag != _q("rsp", "CommandLine"):
            raise bad_request_fault("Command needs an rsp:CommandLine body.")
        command_id = (cmd.get("CommandId") or str(uuid.uuid4())).upper()
        args = cmd.findall("rsp:Arguments", NS)
        data = b"".join(self._b64(a.text) for a in args)
        if not data:
            raise bad_request_fault("A PowerShell Command needs a CREATE_PIPELINE fragment in rsp:Arguments.")
        shell.command(command_id, data)
        response = ET.Element(_q("rsp", "CommandResponse"))
        ET.SubElement(response, _q("rsp", "CommandId")).text = command_id
        return self._reply(request, ACTION_COMMAND + "Response", [response])

    def _send(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        shell = self._shell(request)
        send = request.body
        if send is None or send.tag != _q("rsp", "Send"):
            raise bad_request_fault("Send needs an rsp:Send body.")
        for stream in send.findall("rsp:Stream", NS):
            data = self._b64(stream.text)
            if data:
                shell.send(stream.get("Name", "stdin"), stream.get("CommandId"), data)
        return self._reply(request, ACTION_SEND + "Response", [ET.Element(_q("rsp", "SendResponse"))])

    def _receive(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        shell = self._shell(request)
        receive = request.body
        desired = receive.find("rsp:DesiredStream", NS) if receive is not None else None
        command_id = desired.get("CommandId") if desired is not None else None
        stream_name = (_text(desired) or "stdout").split()[0]
        # Base64 inflates by 4/3; keep a few KiB for the envelope around the streams.
        budget = max(4096, (request.max_envelope_size - 4096) * 3 // 4)
        wait = max(0.0, min(request.operation_timeout, self.receive_wait_cap))
        result = shell.receive(command_id, budget, wait, ctx.should_abort)
        if result is None:
            raise timed_out_fault()
        chunks, done = result
        response = ET.Element(_q("rsp", "ReceiveResponse"))
        for chunk in chunks:
            attrs = {"Name": stream_name}
            if command_id:
                attrs["CommandId"] = command_id.upper()
            ET.SubElement(response, _q("rsp", "Stream"), attrs).text = base64.b64encode(chunk).decode()
        if command_id:
            state = ET.SubElement(
                response,
                _q("rsp", "CommandState"),
                CommandId=command_id.upper(),
                State=COMMAND_STATE_DONE if done else COMMAND_STATE_RUNNING,
            )
            if done:
                ET.SubElement(state, _q("rsp", "ExitCode")).text = "0"
        return self._reply(request, ACTION_RECEIVE + "Response", [response])

    def _signal(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        shell = self._shell(request)
        signal = request.body
        if signal is None or signal.tag != _q("rsp", "Signal"):
            raise bad_request_fault("Signal needs an rsp:Signal body.")
        code = _text(signal.find("rsp:Code", NS))
        shell.signal(signal.get("CommandId"), code)
        return self._reply(request, ACTION_SIGNAL + "Response", [ET.Element(_q("rsp", "SignalResponse"))])

    def _delete(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        shell_id = request.shell_id
        if not shell_id or not self.shells.delete(shell_id):
            raise shell_not_found_fault(shell_id or "")
        return self._reply(request, ACTION_DELETE + "Response")

    def _get(self, request: WSManRequest, ctx: RequestContext) -> bytes:
        uri = request.resource_uri.rstrip("/")
        if uri == CONFIG_RESOURCE_URI:
            config = ET.Element(_q("cfg", "Config"))
            for name, value in (
                ("MaxEnvelopeSizekb", str(MAX_ENVELOPE_SIZE_KB)),
                ("MaxTimeoutms", "60000"),
                ("MaxBatchItems", "32000"),
                ("MaxProviderRequests", "4294967295"),
            ):
                ET.SubElement(config, _q("cfg", name)).text = value
            return self._reply(request, ACTION_GET + "Response", [config])
        if uri == SHELL_RESOURCE_URI or uri.startswith(POWERSHELL_URI_PREFIX):
            shell = self._shell(request)
            return self._reply(request, ACTION_GET + "Response", [self._shell_element(shell)])
        raise resource_not_found_fault(request.resource_uri)


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def iso_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def run_time(since_monotonic: float) -> str:
    total = int(time.monotonic() - since_monotonic)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"P{days}DT{hours}H{minutes}M{secs}S"
