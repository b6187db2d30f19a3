"""The lab's DNS: ``pebble-challtestsrv`` as a DNS server only, answering every A query with 127.0.0.1.

AAAA queries get no answer (``-defaultIPv6 ""``): Pebble asks AAAA first and would dial ``::1``
otherwise. The challenge servers of challtestsrv (http-01, https-01, tls-alpn-01) are disabled: in the
lab, http-01 is answered by the twins' own site servers. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import socket
import struct
import time
from pathlib import Path

from poshbridge.lab.services.pebble import ManagedProcess, ServiceError, challtestsrv_binary


def dns_query_a(name: str, port: int, timeout: float = 1.0) -> list[str]:
    """Ask 127.0.0.1:``port`` (UDP) for the A records of ``name``; the IPv4 addresses answered."""
    query_id = secrets.randbits(16)
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".")) + b"\0"
    packet = header + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, ("127.0.0.1", port))
        data, _ = sock.recvfrom(4096)
    answer_id, _flags, _qd, answers, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if answer_id != query_id:
        raise ServiceError("DNS answer with a foreign id")
    offset = 12 + len(question) + 4
    found: list[str] = []
    for _ in range(answers):
        if data[offset] & 0xC0 == 0xC0:  # compressed name pointer
            offset += 2
        else:
            while data[offset] != 0:
                offset += data[offset] + 1
            offset += 1
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(data[offset : offset + 4]))
        offset += length
    return found


class DNSService:
    def __init__(self, *, dns_port: int, management_port: int, pid_file: Path, log_file: Path) -> None:
        self.dns_port = dns_port
        self.management_port = management_port
        self.process = ManagedProcess(
            "dns",
            [
                challtestsrv_binary(),
                "-dns01",
                f"127.0.0.1:{dns_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"127.0.0.1:{management_port}",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ],
            pid_file=pid_file,
            log_file=log_file,
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if not self.process.alive():
                raise ServiceError(f"pebble-challtestsrv exited during start-up:\n{self.process.log_tail()}")
            try:
                if dns_query_a("probe.poshbridge.test", self.dns_port, timeout=0.3) == ["127.0.0.1"]:
                    return
            except (OSError, ServiceError, struct.error, IndexError) as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(f"the lab DNS did not answer on {self.address}: {last_error}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.stop()
