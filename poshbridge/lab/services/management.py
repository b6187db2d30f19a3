"""The lab's JSON management API on 127.0.0.1 (``management_url`` in lab.json), served by the daemon.

``GET /status``; per twin ``GET|POST /hosts/<h>/counters`` (``/counters/reset``), ``GET|POST
/hosts/<h>/faults`` (a partial :class:`~poshbridge.lab.host.FaultConfig`, every field checked),
``GET|POST /hosts/<h>/clock`` (``advance_seconds``), ``POST /hosts/<h>/run-task``, ``POST
/hosts/<h>/reset`` (a fresh twin); ``POST /ocsp/issued|revoked`` and ``GET /ocsp/status/<serial>``.
Answers are JSON; a bad request is a 4xx with ``{"error": ...}``, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from poshbridge.lab.host import Counters, FaultConfig, TwinHost
from poshbridge.lab.services.fresh import make_fresh
from poshbridge.lab.services.lifecycle import clock_json, move_clock, run_task_now

if TYPE_CHECKING:
    from poshbridge.lab.services.daemon import Lab

log = logging.getLogger("poshbridge.lab")


class ManagementError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def update_faults(faults: FaultConfig, body: dict[str, Any]) -> None:
    """Apply a partial FaultConfig (JSON) after checking every field's name and type."""
    known = {f.name: f for f in dataclasses.fields(FaultConfig)}
    for key, value in body.items():
        if key not in known:
            raise ManagementError(400, f"unknown fault field {key!r} (known: {', '.join(sorted(known))})")
        if key in ("drop_next_receive", "auth_fail", "hang_next", "iis_administration_inbox"):
            if not isinstance(value, bool):
                raise ManagementError(400, f"{key} must be true or false")
        elif key == "fault_500_action":
            if not isinstance(value, str) or len(value) > 40:
                raise ManagementError(400, f"{key} must be a WSMan action name such as Command")
        elif key in ("latency_ms", "fault_500_next", "statement_delay_ms", "fault_500_skip"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ManagementError(400, f"{key} must be a non-negative integer")
        elif (
            key == "acme_error_next_order"
            and value is not None
            and not (isinstance(value, dict) and isinstance(value.get("type"), str))
        ):
            raise ManagementError(400, "acme_error_next_order must be null or {type, detail, status}")
    for key, value in body.items():
        setattr(faults, key, value)


class ManagementHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ManagementServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("management %s", format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ManagementError(400, "the request body must be a JSON object")
            status, payload = 200, self._route(method, self.path.split("?", 1)[0], body)
        except ManagementError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request: {exc}"}
        except Exception as exc:
            log.exception("management: %s %s failed", method, self.path)
            status, payload = 500, {"error": f"internal error: {exc}"}
        data = (json.dumps(payload, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        lab = self.server.lab
        parts = [p for p in path.split("/") if p]
        if parts == ["status"] and method == "GET":
            return lab.status()
        if parts[:1] == ["hosts"] and len(parts) >= 3:
            twin = lab.twin(parts[1])
            if twin is None:
                raise ManagementError(404, f"no such lab host: {parts[1]}")
            return self._host_route(twin, method, parts[2:], body)
        if parts[:1] == ["ocsp"] and method == "POST" and len(parts) == 2:
            return self._ocsp_route(parts[1], body)
        if parts[:2] == ["ocsp", "status"] and len(parts) == 3 and method == "GET":
            assert lab.ocsp is not None
            return {"serial": parts[2].upper(), "status": lab.ocsp.status_of(int(parts[2], 16))}
        raise ManagementError(404, f"no such endpoint: {method} {path}")

    def _host_route(self, twin: TwinHost, method: str, rest: list[str], body: dict[str, Any]) -> Any:
        if rest == ["counters"] and method == "GET":
            with twin.lock:
                return twin.counters.to_json()
        if rest == ["counters", "reset"] and method == "POST":
            with twin.lock:
                for f in dataclasses.fields(Counters):
                    setattr(twin.counters, f.name, getattr(Counters(), f.name))
                return twin.counters.to_json()
        if rest == ["faults"] and method == "GET":
            with twin.lock:
                return twin.faults.to_json()
        if rest == ["faults"] and method == "POST":
            with twin.lock:
                update_faults(twin.faults, body)
                log.info("%s: faults now %s", twin.name, twin.faults.to_json())
                return twin.faults.to_json()
        if rest == ["clock"] and method == "GET":
            return clock_json(twin)
        if rest == ["clock"] and method == "POST":
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise ManagementError(400, "advance_seconds (a non-negative integer) is required")
            try:
                moved = move_clock(twin, seconds)
            except ValueError as exc:
                raise ManagementError(400, str(exc)) from None
            log.info("%s: clock moved by %d s, now %s", twin.name, seconds, moved["now"])
            return moved
        if rest == ["run-task"] and method == "POST":
            name = body.get("task")
            if name is not None and not isinstance(name, str):
                raise ManagementError(400, "task must be a task name")
            try:
                return run_task_now(twin, name)
            except LookupError as exc:
                raise ManagementError(409, str(exc).strip("'\"")) from None
            except TimeoutError as exc:
                raise ManagementError(504, str(exc)) from None
        if rest == ["reset"] and method == "POST":
            make_fresh(twin)
            log.info("%s: reset to fresh", twin.name)
            return {"host": twin.name, "reset": True}
        raise ManagementError(404, f"no such endpoint: {method} /hosts/{twin.name}/{'/'.join(rest)}")

    def _ocsp_route(self, action: str, body: dict[str, Any]) -> Any:
        ocsp = self.server.lab.ocsp
        assert ocsp is not None
        pem = body.get("pem")
        if not isinstance(pem, str):
            raise ManagementError(400, "pem (a PEM certificate) is required")
        if action == "issued":
            lag = body.get("lag")
            serial = ocsp.register_issued(pem.encode(), None if lag is None else float(lag))
        elif action == "revoked":
            serial = ocsp.register_revoked(pem.encode(), int(body.get("reason", 0)))
        else:
            raise ManagementError(404, f"no such endpoint: POST /ocsp/{action}")
        return {"serial": format(serial, "X"), "status": ocsp.status_of(serial)}


class ManagementServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        super().__init__(("127.0.0.1", 0), ManagementHandler)
