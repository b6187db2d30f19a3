"""The one host-state model status and audit share: one read batch, one facts builder, one binding
matcher (Set-IISCertificate's exact ``<IP>:<Port>:<HostHeader>``), one served-certificate model, one
task model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from poshbridge.audit.collect import state_batch
from poshbridge.health.model import HostFacts, TaskInfo, evaluate
from poshbridge.hoststate import batch as hb
from poshbridge.hoststate.binding import binding_information, find_binding
from poshbridge.hoststate.served import ServedCertificate
from poshbridge.hoststate.state import HostState, bak_for_order, host_facts, read_state
from poshbridge.inventory.model import HostConfig, IISConfig, RenewalConfig
from poshbridge.plan.renew import status_batch
from poshbridge.plan.setup import SetupFacts
from poshbridge.poshacme.model import IISBinding, PACertificate, PAOrder
from poshbridge.remote import tls
from poshbridge.remote.session import RemoteError, StatementResult

THUMB = "3C1A5F0E8D2B47A6C9E1F3D5B7A9C0E2F4D6B8A1"
OTHER = "B" * 40
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def host(**iis: object) -> HostConfig:
    return HostConfig(
        name="host01",
        address="web01.example.jp",
        domains=("example.jp", "www.example.jp"),
        webroot="C:\\inetpub\\wwwroot",
        iis=IISConfig(site="example.jp", **iis),  # type: ignore[arg-type]
        renewal=RenewalConfig(log_dir="C:\\poshbridge\\logs", task_name="poshbridge renew"),
    )


HOST = host()


def answered(label: str, *output: object, errors: tuple[str, ...] = ()) -> StatementResult:
    return StatementResult(label, output=list(output), errors=[RemoteError(e) for e in errors], ran=True)


def healthy_reads(bindings: list[dict[str, object]] | None = None) -> list[StatementResult]:
    return [
        answered("env"),
        answered("task", {"TaskName": "poshbridge renew", "State": 3}),
        answered("task-info", {"LastRunTime": "1999-11-30T00:00:00", "LastTaskResult": 0x41303}),
        answered(
            "bindings",
            *(bindings or [{"protocol": "https", "bindingInformation": "*:443:", "certificateHash": THUMB}]),
        ),
        answered("bak"),
        answered("orders", {"Name": "other.jp"}, {"Name": "example.jp", "Folder": "C:\\p\\a\\1\\example.jp"}),
        answered("certificate", {"Thumbprint": THUMB.lower(), "NotAfter": "2026-08-01T00:00:00Z"}),
    ]


# ----- one read batch -----------------------------------------------------------------------------


def test_status_and_audit_send_the_same_host_state_statements() -> None:
    status = [(s.label, s.render()) for s in status_batch(HOST)]
    audit = [(s.label, s.render()) for s in state_batch(HOST, NOW)]
    assert status == [(s.label, s.render()) for s in hb.read_statements(HOST)]
    # the audit adds its log reads before the Posh-ACME statements (which throw on a host without state)
    assert [x for x in audit if x[0] in dict(status)] == status
    assert [label for label, _ in status][-2:] == ["orders", "certificate"]
    assert status[-1][1] == "Get-PACertificate -Name 'example.jp'"


def test_certificate_files_are_read_only_for_a_current_certificate() -> None:
    cert = PACertificate(thumbprint=THUMB, cert_file="C:\\p\\cert.cer", chain_file="C:\\p\\chain.cer")
    assert [s.label for s in hb.cert_files_batch(cert)] == [hb.R_PEM_CERT, hb.R_PEM_CHAIN]
    assert hb.cert_files_batch(None).statements == []


# ----- one binding matcher ------------------------------------------------------------------------


def binding(info: str, thumb: str = THUMB, protocol: str = "https") -> IISBinding:
    return IISBinding(protocol=protocol, binding_information=info, certificate_hash=thumb)


def test_the_binding_is_set_iiscertificates_exact_ip_port_host_header() -> None:
    assert binding_information(port=443) == "*:443:"
    assert binding_information(port=8443, ip_address="10.0.0.5", host_header="www.example.jp") == (
        "10.0.0.5:8443:www.example.jp"
    )
    same_port_other_header = [binding("*:443:other.example.jp", OTHER), binding("10.0.0.5:443:", OTHER)]
    # a best-score pick would call one of these "our binding with another certificate": it is not
    # (Set-IISCertificate would create *:443: beside them)
    assert find_binding(same_port_other_header, port=443) is None
    mine = binding("*:443:WWW.Example.JP")  # PowerShell's -eq ignores case
    assert find_binding([*same_port_other_header, mine], port=443, host_header="www.example.jp") is mine
    assert find_binding([binding("*:443:", protocol="http")], port=443) is None
    v6 = binding("[2001:db8::5]:443:")
    assert find_binding([v6], port=443, ip_address="[2001:db8::5]") is v6
    assert v6.matches(port=443, ip_address="[2001:db8::5]")  # the model's method is the same matcher


def test_setup_status_and_audit_pick_the_same_binding() -> None:
    bindings = [{"protocol": "https", "bindingInformation": "*:443:other.jp", "certificateHash": OTHER}]
    state = read_state(HOST, healthy_reads(bindings))
    assert state.binding is None and state.binding_found is False
    setup = SetupFacts(bindings=tuple(IISBinding.from_obj(b) for b in bindings))
    assert setup.binding_for(HOST) is None
    facts = host_facts(HOST, state, served=None)
    assert facts.binding_found is False and facts.binding_thumbprint is None
    codes = [r.code for r in evaluate(facts, now=NOW).reasons]
    assert "binding-missing" in codes and "binding-drift" not in codes


# ----- one facts builder --------------------------------------------------------------------------


def test_host_state_from_the_answers() -> None:
    state = read_state(HOST, healthy_reads())
    assert state.order is not None and state.order.name == "example.jp"
    assert state.certificate is not None and state.certificate.thumbprint == THUMB
    assert state.poshacme_read and state.binding is not None and state.binding_found
    assert state.task == TaskInfo(
        exists=True, name="poshbridge renew", state="Ready", last_task_result=0x41303, never_ran=True
    )
    assert state.errors == ()
    objects = state.objects()
    assert objects["task"]["task_name"] == "poshbridge renew" and objects["task"]["never_ran"] is True
    assert objects["binding"]["certificate_hash"] == THUMB


def test_a_host_without_posh_acme_state_is_a_fact_not_an_error() -> None:
    none = "No ACME server configured. Run Set-PAServer first."
    reads = [
        answered("task"),
        answered("task-info"),
        answered("bindings"),
        answered("orders", errors=(none,)),
        answered("certificate", errors=(none,)),
    ]
    state = read_state(HOST, reads)
    assert state.poshacme_read and state.certificate is None and state.errors == ()
    assert state.task == TaskInfo(exists=False, name="poshbridge renew")
    verdict = evaluate(host_facts(HOST, state, served=ServedCertificate(error="refused")), now=NOW)
    assert [r.code for r in verdict.reasons] == ["not-set-up"]


def test_a_read_that_failed_is_not_known_and_a_collection_error() -> None:
    reads = healthy_reads()
    reads[-1] = answered("certificate", errors=("Access to the path is denied.",))
    reads[1] = StatementResult("task")  # never ran (the batch stopped)
    state = read_state(HOST, reads)
    assert not state.poshacme_read and state.certificate is None
    assert state.task is None
    assert state.errors == ("certificate: Access to the path is denied.",)
    facts = host_facts(HOST, state, served=None)
    assert facts.certificate is None and facts.task is None  # never "no certificate" / "task missing"
    codes = [r.code for r in evaluate(facts, now=NOW).reasons]
    assert "collection" in codes and "no-certificate" not in codes and "task-missing" not in codes


def test_a_statement_sent_again_wins() -> None:
    reads = [*healthy_reads(), answered("bindings")]
    assert read_state(HOST, reads).binding_found is False


def test_an_unreachable_host_knows_only_what_was_served() -> None:
    state = read_state(HOST, healthy_reads())
    served = ServedCertificate(thumbprint=OTHER, not_after=NOW, endpoint="web01.example.jp:443")
    facts = host_facts(HOST, state, served=served, unreachable="connect: refused")
    assert isinstance(facts, HostFacts)
    assert (facts.certificate, facts.task, facts.binding_found, facts.current_revocation) == (None,) * 4
    assert facts.endpoint == "web01.example.jp:443"
    empty = host_facts(HOST, HostState(), served=None, unreachable="connect: refused")
    assert empty.endpoint == "web01.example.jp:443"


def test_a_current_certificate_whose_file_was_not_read_is_not_checked() -> None:
    facts = host_facts(HOST, read_state(HOST, healthy_reads()), served=None)
    assert facts.current_revocation is not None and facts.current_revocation.state == "not-checked"


def test_bak_files_of_the_order_folder_only() -> None:
    names = [
        "acme.example_14000\\12345\\example.jp\\cert.cer.bak",
        "acme.example_14000\\12345\\example.jp\\fullchain.pfx.bak",
        "acme.example_14000\\12345\\other.jp\\cert.cer.bak",
    ]
    assert bak_for_order(names, None, "example.jp") == ["cert.cer.bak", "fullchain.pfx.bak"]
    order = PAOrder(name="renamed", folder="C:\\p\\acme.example_14000\\12345\\other.jp")
    assert bak_for_order(names, order, "renamed") == ["cert.cer.bak"]


# ----- one served-certificate model ---------------------------------------------------------------


def test_the_probe_answers_the_one_served_certificate_model() -> None:
    assert tls.ServedCertificate is ServedCertificate
    served = tls.fetch_served("127.0.0.1", 9, "example.jp", timeout=2)  # discard port: refused
    assert isinstance(served, ServedCertificate) and not served.ok and served.error
    assert served.to_json()["endpoint"] == "127.0.0.1:9" and served.to_json()["sni"] == "example.jp"
    ok = ServedCertificate(thumbprint=THUMB, not_after=datetime(2026, 8, 1, tzinfo=timezone.utc))
    assert ok.ok and ok.to_json()["not_after"] == "2026-08-01T00:00:00Z"


def test_a_served_certificate_that_does_not_parse_is_a_finding_not_a_crash() -> None:
    garbage = ServedCertificate.from_der(b"\x30\x03\x02\x01\x00", endpoint="h:443", sni="example.jp")
    assert garbage.error is not None and garbage.error.startswith("unreadable certificate")
    assert not garbage.ok and garbage.thumbprint is None
    assert ServedCertificate.from_der(None).error == "no certificate presented"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.jp")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    served = ServedCertificate.from_der(cert.public_bytes(Encoding.DER), endpoint="h:443")
    assert served.ok and served.thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert served.not_after == cert.not_valid_after_utc
