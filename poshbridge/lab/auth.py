"""HTTP authentication and WinRM message encryption for the lab's WSMan listeners.

- Negotiate/NTLM through pyspnego's pure-Python acceptor (``spnego.server``). As with HTTP.sys, the
  security context belongs to the TCP connection: after the handshake a client sends its requests with
  no ``Authorization`` header. The acceptor looks passwords up in the file named by ``NTLM_USER_FILE``
  (``DOMAIN:USER:PASSWORD`` lines; a user sent without a domain only matches ``:USER:PASSWORD``).
- Message encryption exactly as ``pypsrp/encryption.py`` frames it (``multipart/encrypted``,
  ``--Encrypted Boundary``, ``<int32 LE header length><header><sealed data>``).
- Basic only over HTTPS. Over HTTP the lab behaves like a default WinRM service
  (``AllowUnencrypted=false``): Basic is not offered and unsealed SOAP is refused with 401.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spnego
from spnego.exceptions import SpnegoError

SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = "Encrypted Boundary"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{SPNEGO_ENCRYPTED}";boundary="{BOUNDARY}"'
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"

_NTLM_FILE_LOCK = threading.Lock()


class AuthError(Exception):
    """Message framing or sealing failed (answered with a 400/500, never a dropped socket)."""


def _split_user(username: str) -> tuple[str, str]:
    if "\\" in username:
        domain, user = username.split("\\", 1)
        return domain, user
    return "", username


def ntlm_user_lines(username: str, password: str) -> list[str]:
    """The NTLM_USER_FILE lines that let ``username`` (with or without a domain) log on."""
    domain, user = _split_user(username)
    lines = [f":{user}:{password}"]
    for extra in (domain, "."):
        if extra and f"{extra}:{user}:{password}" not in lines:
            lines.append(f"{extra}:{user}:{password}")
    return lines


def write_ntlm_user_file(path: str | Path, username: str, password: str) -> Path:
    """Write an NTLM_USER_FILE for one user: ``:user:pass`` (a client sending no domain) plus
    ``DOMAIN:user:pass`` when the username carries a domain and ``.:user:pass`` (``.\\user``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(ntlm_user_lines(username, password)) + "\n")
    return target


def ensure_ntlm_user(username: str, password: str, default_path: Path) -> Path:
    """Make the process-wide NTLM_USER_FILE accept ``username``/``password``.

    Sets ``NTLM_USER_FILE`` to ``default_path`` (written fresh) when it is not set; otherwise appends the
    missing lines to the file it names. pyspnego uses the FIRST line matching a (domain, user), so a
    different password for the same user already in the file cannot work: that is a ValueError.
    """
    with _NTLM_FILE_LOCK:
        current = os.environ.get("NTLM_USER_FILE")
        if not current:
            path = write_ntlm_user_file(default_path, username, password)
            os.environ["NTLM_USER_FILE"] = str(path)
            return path
        path = Path(current)
        existing = path.read_text("utf-8").splitlines() if path.exists() else []
        known: dict[tuple[str, str], str] = {}
        for line in existing:
            parts = line.split(":")
            if len(parts) == 3:
                known.setdefault((parts[0].upper(), parts[1].upper()), parts[2])
        missing = []
        for line in ntlm_user_lines(username, password):
            d, u, p = line.split(":", 2)
            have = known.get((d.upper(), u.upper()))
            if have is None:
                missing.append(line)
            elif not hmac.compare_digest(have.encode(), p.encode()):
                raise ValueError(
                    f"NTLM_USER_FILE ({path}) already holds a different password for user "
                    f"'{(d + chr(92)) if d else ''}{u}'; pyspnego's acceptor uses the first match, so "
                    "every WinRM listener in one process must use the same password for a user name"
                )
        if missing:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                if existing and existing[-1] != "":
                    handle.write("\n")
                handle.write("\n".join(missing) + "\n")
            os.chmod(path, 0o600)
        return path


@dataclass
class AuthDecision:
    ok: bool
    headers: list[tuple[str, str]] = field(default_factory=list)  # extra headers for the response


def _same_user(presented: str, expected: str) -> bool:
    p_domain, p_user = _split_user(presented)
    if "@" in p_user and not p_domain:
        p_user = p_user.split("@", 1)[0]
    e_user = _split_user(expected)[1]
    return p_user.lower() == e_user.lower()


class ConnectionAuth:
    """Authentication state of one TCP connection."""

    def __init__(self, username: str, password: str, *, tls: bool) -> None:
        self.username = username
        self._password = password
        self.tls = tls
        self._context: Any = None  # spnego server context
        self._scheme = "Negotiate"
        self.authenticated = False  # a Negotiate context completed on this connection
        self.principal: str | None = None

    # ----- challenges -----------------------------------------------------------------------
    def challenge_headers(self) -> list[tuple[str, str]]:
        headers = [("WWW-Authenticate", "Negotiate")]
        if self.tls:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return headers

    def reset(self) -> None:
        self._context = None
        self.authenticated = False
        self.principal = None

    @property
    def can_seal(self) -> bool:
        return self.authenticated and self._context is not None

    # ----- the decision for one request ---------------------------------------------------------
    def authenticate(self, authorization: str | None) -> AuthDecision:
        if not authorization:
            if self.authenticated:
                return AuthDecision(True)
            return AuthDecision(False, self.challenge_headers())
        scheme, _, token_text = authorization.strip().partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic":
            return self._basic(token_text.strip())
        if scheme_l in ("negotiate", "ntlm"):
            return self._negotiate(scheme, token_text.strip())
        return AuthDecision(False, self.challenge_headers())

    def _basic(self, token: str) -> AuthDecision:
        if not self.tls:
            # Basic over HTTP is refused like a default WinRM service (AllowUnencrypted=false).
            return AuthDecision(False, self.challenge_headers())
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return AuthDecision(False, self.challenge_headers())
        if _same_user(user, self.username) and hmac.compare_digest(
            password.encode("utf-8"), self._password.encode("utf-8")
        ):
            self.principal = user
            return AuthDecision(True)
        return AuthDecision(False, self.challenge_headers())

    def _negotiate(self, scheme: str, token_text: str) -> AuthDecision:
        try:
            token = base64.b64decode(token_text)
        except ValueError:
            self.reset()
            return AuthDecision(False, self.challenge_headers())
        if self._context is None or self.authenticated:
            # A new handshake (first one, or a client re-authenticating on this connection).
            self.reset()
            self._scheme = "NTLM" if scheme.lower() == "ntlm" else "Negotiate"
            try:
                self._context = spnego.server(protocol="negotiate")
            except SpnegoError:
                return AuthDecision(False, self.challenge_headers())
        try:
            out_token = self._context.step(token)
        except SpnegoError:
            self.reset()
            return AuthDecision(False, self.challenge_headers())
        out_header = (
            [("WWW-Authenticate", f"{self._scheme} {base64.b64encode(out_token).decode()}")]
            if (out_token)
            else []
        )
        if not self._context.complete:
            return AuthDecision(False, out_header)
        principal = self._context.client_principal or ""
        if not _same_user(principal, self.username):
            self.reset()
            return AuthDecision(False, self.challenge_headers())
        self.authenticated = True
        self.principal = principal
        return AuthDecision(True, out_header)

    # ----- message encryption -------------------------------------------------------------------
    def unwrap(self, content_type: str, body: bytes) -> bytes:
        """A ``multipart/encrypted`` request body -> the SOAP bytes."""
        if not self.can_seal:
            raise AuthError("sealed message on a connection without a Negotiate security context")
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        boundary = match.group(1) if match else BOUNDARY
        parts = [p for p in re.split(rb"--\s*" + re.escape(boundary.encode()) + rb"\r\n", body) if p]
        message = b""
        for i in range(0, len(parts) - 1, 2):
            header_part = parts[i].strip()
            payload = parts[i + 1]
            length_match = re.search(rb"Length=(\d+)", header_part)
            if not length_match:
                raise AuthError("encrypted part without OriginalContent length")
            expected = int(length_match.group(1))
            payload = re.sub(rb"--\s*" + re.escape(boundary.encode()) + rb"--\r\n$", b"", payload)
            payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"")
            if len(payload) < 4:
                raise AuthError("encrypted part too short")
            header_length = struct.unpack("<i", payload[:4])[0]
            header = payload[4 : 4 + header_length]
            sealed = payload[4 + header_length :]
            try:
                plain = self._context.unwrap_winrm(header, sealed)
            except SpnegoError as exc:
                raise AuthError(f"cannot unseal the message: {exc}") from None
            if len(plain) != expected:
                raise AuthError(f"unsealed length {len(plain)} != declared {expected}")
            message += plain
        return message

    def wrap(self, message: bytes) -> bytes:
        wrapped = self._context.wrap_winrm(message)
        header: bytes = wrapped.header
        sealed: bytes = wrapped.data
        padding_length: int = wrapped.padding_length
        part = "\r\n".join(
            [
                "--" + BOUNDARY,
                f"\tContent-Type: {SPNEGO_ENCRYPTED}",
                f"\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={len(message) + padding_length}",
                "--" + BOUNDARY,
                "\tContent-Type: application/octet-stream",
                "",
            ]
        ).encode()
        return part + struct.pack("<i", len(header)) + header + sealed + f"--{BOUNDARY}--\r\n".encode()
