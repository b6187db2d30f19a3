"""Transcript parser: given a renewal log as a Windows host leaves it, the audit reads these facts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from poshbridge.audit.transcript import (
    FAILED,
    INTERRUPTED,
    NOT_DUE,
    RENEWED,
    SKIPPED,
    UNKNOWN,
    decode_transcript,
    pair_runs,
    parse_result_file,
    parse_transcript,
)

Bytes = Callable[[str, str], bytes]
Text = Callable[[str], str]

THUMB = "3C1A5F0E8D2B47A6C9E1F3D5B7A9C0E2F4D6B8A1"


def only_session(data: bytes):  # type: ignore[no-untyped-def]
    parsed = parse_transcript(data, "acme_log.txt")
    assert len(parsed.sessions) == 1
    return parsed.sessions[0]


# ----- headers, encodings, labels -----------------------------------------------------------------


def test_ps51_with_bom_not_due_46_reads_every_header_field(transcript_bytes: Bytes) -> None:
    data = transcript_bytes("ps51_not_due_46.txt", "ps51")
    parsed = parse_transcript(data, "acme_log.txt")
    assert parsed.encoding == "utf-8-bom"
    (session,) = parsed.sessions
    assert session.start == datetime(2024, 11, 26, 3, 17, 2)
    assert session.end == datetime(2024, 11, 26, 3, 17, 5)
    assert session.username == "WORKGROUP\\SYSTEM"
    assert session.runas_user == "WORKGROUP\\SYSTEM"
    assert session.configuration_name is None  # "Configuration Name: " (empty, trailing space)
    assert session.machine == "WEB01 (Microsoft Windows NT 10.0.17763.0)"
    assert session.host_application.endswith("powershell.exe -Command C:\\renew.ps1")  # type: ignore[union-attr]
    assert session.process_id == "4242"
    assert session.ps_version == "5.1.17763.5830"
    assert session.edition == "Desktop"
    assert session.ps_version_table["CLRVersion"] == "4.0.30319.42000"
    assert session.complete
    assert session.outcome == NOT_DUE
    assert session.orders == ["example.jp"]
    assert session.warnings == [
        "Order for example.jp is not recommended for renewal yet. Use -Force to override."
    ]


def test_not_due_string_of_posh_acme_47_counts_too(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_not_due_47.txt", "ps51"))
    assert session.outcome == NOT_DUE
    assert session.orders == ["example.jp"]


def test_header_without_configuration_name_line_older_51(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_renewed.txt", "ps51"))
    assert session.configuration_name is None
    assert session.machine == "WEB01 (Microsoft Windows NT 10.0.17763.0)"
    assert session.process_id == "5120"


def test_ps7_without_bom_core_edition(transcript_bytes: Bytes) -> None:
    parsed = parse_transcript(transcript_bytes("ps7_failed_concise.txt", "ps7"), "acme_log.txt")
    assert parsed.encoding == "utf-8"
    (session,) = parsed.sessions
    assert session.start_label == "PowerShell transcript start"
    assert session.edition == "Core"
    assert session.ps_version == "7.4.6"
    assert session.ps_version_table["Platform"] == "Win32NT"
    assert session.username == "CONTOSO\\certadmin"


def test_utf16_le_and_be_read_the_same_as_utf8(transcript_bytes: Bytes) -> None:
    reference = only_session(transcript_bytes("ps51_renewed.txt", "ps51")).to_json()
    for style in ("utf16le", "utf16be"):
        parsed = parse_transcript(transcript_bytes("ps51_renewed.txt", style), "acme_log.txt")
        assert parsed.encoding.startswith("utf-16")
        assert parsed.sessions[0].to_json() == reference


def test_utf16_without_bom_is_recognised(transcript_text: Text) -> None:
    data = transcript_text("ps51_not_due_47.txt").replace("\n", "\r\n").encode("utf-16-le")
    session = only_session(data)
    assert session.outcome == NOT_DUE


def test_cp932_japanese_labels_and_prefixes(transcript_bytes: Bytes) -> None:
    parsed = parse_transcript(transcript_bytes("japanese_51.txt", "cp932"), "acme_log.txt")
    assert "cp932" in parsed.encoding
    (session,) = parsed.sessions
    assert session.start_label == "Windows PowerShell トランスクリプト開始"
    assert session.end_label == "Windows PowerShell トランスクリプト終了"
    assert session.username == "WORKGROUP\\SYSTEM"
    assert session.machine == "WEB05 (Microsoft Windows NT 10.0.17763.0)"
    assert session.host_application is not None and session.host_application.endswith("renew.ps1")
    assert session.process_id == "2210"
    assert session.outcome == NOT_DUE
    assert session.warnings == [
        "Order 'example.jp' is not recommended for renewal yet. Use -Force to override."
    ]


def test_utf8_transcript_with_cp932_lines_appended_by_another_tool(transcript_bytes: Bytes) -> None:
    data = transcript_bytes("japanese_51_failed.txt", "ps51") + "証明書の更新に失敗しました\r\n".encode(
        "cp932"
    )
    parsed = parse_transcript(data, "acme_log.txt")
    assert parsed.encoding == "utf-8-bom" or "cp932" in parsed.encoding
    text, encoding = decode_transcript(data)
    assert "cp932" in encoding
    assert "証明書の更新に失敗しました" in text
    (session,) = parsed.sessions
    assert session.outcome == FAILED
    (error,) = session.errors
    assert error.kind == "error"
    assert error.command == "Submit-Renewal"
    assert error.fq_error_id == "Microsoft.PowerShell.Commands.WriteErrorException,Submit-Renewal"
    assert error.text.startswith("Authorization invalid for example.jp: CAA records forbid")
    assert session.acme_problem is not None
    assert session.acme_problem.fqdn == "example.jp"
    assert session.acme_problem.type == "caa"  # the CA's table message, classified
    assert [e.text for e in session.events if e.kind == "verbose"] == [
        "Renewing certificate for order 'example.jp'"
    ]


def test_german_labels_with_the_stray_n_before_the_label(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("german_51.txt", "ps51"))
    assert session.start_label == "nStart der Windows PowerShell-Aufzeichnung"
    assert session.username == "ARBEITSGRUPPE\\SYSTEM"
    assert session.runas_user == "ARBEITSGRUPPE\\SYSTEM"
    assert session.machine == "WEB04 (Microsoft Windows NT 10.0.17763.0)"
    assert session.process_id == "3100"
    assert session.end == datetime(2024, 11, 26, 3, 17, 6)
    assert [e.kind for e in session.events] == ["verbose", "warning"]
    assert session.outcome == NOT_DUE
    assert session.orders == ["beispiel.de"]


def test_unknown_labels_fall_back_to_header_positions(transcript_text: Text) -> None:
    text = transcript_text("ps51_not_due_47.txt")
    for english, other in (
        ("Username:", "Utilisateur:"),
        ("RunAs User:", "Utilisateur RunAs:"),
        ("Configuration Name:", "Nom de la configuration:"),
        ("Machine:", "Ordinateur:"),
        ("Host Application:", "Application hôte:"),
        ("Process ID:", "ID de processus:"),
        ("Windows PowerShell transcript start", "Début de la transcription Windows PowerShell"),
        ("Start time:", "Heure de début:"),
    ):
        text = text.replace(english, other)
    session = only_session(text.encode("utf-8"))
    assert session.username == "WORKGROUP\\SYSTEM"
    assert session.machine == "WEB01 (Microsoft Windows NT 10.0.17763.0)"
    assert session.process_id == "4242"
    assert session.start == datetime(2024, 11, 26, 3, 17, 2)
    assert session.outcome == NOT_DUE


def test_three_appended_sessions(transcript_text: Text) -> None:
    text = (
        transcript_text("ps51_not_due_46.txt")
        + transcript_text("ps51_not_due_47.txt")
        + transcript_text("ps51_renewed.txt")
    )
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    parsed = parse_transcript(data, "acme_log.txt")
    assert [s.outcome for s in parsed.sessions] == [NOT_DUE, NOT_DUE, RENEWED]
    assert [s.index for s in parsed.sessions] == [0, 1, 2]
    assert all(s.complete for s in parsed.sessions)
    assert parsed.sessions[2].imported_thumbprint == THUMB
    assert parsed.sessions[1].first_line == parsed.sessions[0].last_line + 1


def test_session_without_footer_is_interrupted(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("no_footer.txt", "ps51"))
    assert not session.complete
    assert session.end is None
    assert session.outcome == INTERRUPTED


def test_interrupted_session_followed_by_a_new_one(transcript_text: Text) -> None:
    text = transcript_text("no_footer.txt") + transcript_text("ps51_not_due_47.txt")
    parsed = parse_transcript(text.encode("utf-8"), "acme_log.txt")
    assert [s.outcome for s in parsed.sessions] == [INTERRUPTED, NOT_DUE]


def test_minimal_header_and_invocation_headers(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps7_minimal_header.txt", "ps7"))
    assert session.minimal_header
    assert session.start == datetime(2024, 11, 26, 3, 17, 2)
    assert session.username is None
    assert session.complete
    kinds = [e.kind for e in session.events]
    assert kinds == [
        "invocation",
        "command",
        "invocation",
        "command",
        "continuation",
        "continuation",
        "warning",
    ]
    assert session.events[1].text == "Set-PAOrder -MainDomain 'example.jp' -Verbose"
    assert session.events[4].text == "    Start-Sleep -Seconds 600"
    assert session.outcome == NOT_DUE


# ----- error renderings -----------------------------------------------------------------------------


def test_ps51_terminating_error_with_acme_problem_json_and_error_records(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_failed_acme.txt", "ps51"))
    assert not session.complete
    assert session.outcome == FAILED
    kinds = [(e.kind, e.command, e.repeated) for e in session.errors]
    assert kinds == [
        ("terminating-error", "Invoke-WebRequest", False),
        ("terminating-error", "Submit-Renewal", False),
        ("error", "Submit-Renewal", True),  # the 5.1 rendering of the same error, twice
        ("error", "Submit-Renewal", True),
    ]
    body = session.errors[0]
    assert json.loads(body.text)["status"] == 400
    assert body.problem is not None and body.problem.type == "rejectedIdentifier"
    record = session.errors[2]
    assert record.text == "The server will not issue certificates for the identifier"
    assert record.category == "NotSpecified: (:) [Submit-Renewal], AcmeException"
    assert record.fq_error_id == "AcmeException,Submit-Renewal"
    assert session.acme_problem is not None and session.acme_problem.type == "rejectedIdentifier"
    assert (
        session.outcome_reason == "Submit-Renewal: The server will not issue certificates for the identifier"
    )


def test_ps7_concise_view_error(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps7_failed_concise.txt", "ps7"))
    assert session.outcome == FAILED
    terminating, record = session.errors
    assert terminating.kind == "terminating-error" and terminating.command == "Submit-Renewal"
    assert record.kind == "error"
    assert record.text == (
        "Authorization invalid for www.example.jp: The server could not connect to validation target :"
        " www.example.jp"
    )
    assert record.repeated  # same message as the TerminatingError line, wrapped differently
    assert session.acme_problem is not None and session.acme_problem.fqdn == "www.example.jp"
    assert session.acme_problem.type == "connection"


def test_ps7_non_terminating_iis_error_after_import_is_a_failure(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps7_iis_step_failed.txt", "ps7"))
    assert session.complete
    assert session.outcome == FAILED
    (record,) = session.errors
    assert record.command == "Set-IISCertificate"
    assert record.text.endswith("(Exception from HRESULT: 0x80070520)")
    assert session.acme_problem is None
    assert session.outcome_reason.startswith("Set-IISCertificate: A specified logon session")


def test_ps51_throw_without_command_prefix_is_an_error_record() -> None:
    text = (
        "No order found for the specified parameters.\n"
        "At C:\\renew.ps1:3 char:1\n"
        "+ throw 'x'\n"
        "+ ~~~~~~~~~\n"
        "    + CategoryInfo          : OperationStopped: (No order found...:String) [], RuntimeException\n"
        "    + FullyQualifiedErrorId : No order found for the specified parameters.\n"
    )
    parsed = parse_transcript(text.encode(), "fragment.txt")
    (session,) = parsed.sessions
    assert not session.has_header  # a fragment (file truncated at the start)
    (record,) = session.errors
    assert record.command is None
    assert record.text == "No order found for the specified parameters."
    assert session.outcome == FAILED


# ----- Posh-ACME outcomes ---------------------------------------------------------------------------


def test_renewed_with_set_iiscertificate_verbose_lines(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_renewed.txt", "ps51"))
    assert session.outcome == RENEWED
    assert session.imported_thumbprint == THUMB
    verbose = [e.text for e in session.events if e.kind == "verbose"]
    assert verbose[0] == f"Importing cert with thumbprint {THUMB} to LocalMachine\\My"
    assert len(verbose) == 4
    assert (session.end - session.start).total_seconds() >= 600  # type: ignore[operator]


def test_skipped_null_plugin(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_skipped.txt", "ps51"))
    assert session.outcome == SKIPPED
    assert session.orders == ["example.jp"]


def test_skipped_manual_dns_plugin() -> None:
    text = _wrap(
        "WARNING: Skipping renewal for order 'example.jp' due to Manual DNS plugin."
        " Use -NoSkipManualDns to avoid this.\n"
    )
    assert only_session(text.encode()).outcome == SKIPPED


def test_bad_nonce_retried_then_renewed_is_not_a_failure(transcript_bytes: Bytes) -> None:
    session = only_session(transcript_bytes("ps51_bad_nonce_renewed.txt", "ps51"))
    assert session.outcome == RENEWED
    nonce = [e for e in session.errors if e.kind == "terminating-error"]
    assert len(nonce) == 2 and nonce[1].repeated
    assert all(e.problem is not None and e.problem.type == "badNonce" for e in nonce)
    assert session.acme_problem is None


def test_bad_nonce_retried_then_not_due() -> None:
    text = _wrap(
        'PS>TerminatingError(Invoke-WebRequest): "{ "type": "urn:ietf:params:acme:error:badNonce",'
        ' "detail": "JWS has an invalid anti-replay nonce", "status": 400 }"\n'
        "WARNING: Order 'example.jp' is not recommended for renewal yet. Use -Force to override.\n"
    )
    assert only_session(text.encode()).outcome == NOT_DUE


def test_bad_nonce_then_footer_is_not_a_failure() -> None:
    text = _wrap(
        'PS>TerminatingError(Invoke-WebRequest): "{ "type": "urn:ietf:params:acme:error:badNonce",'
        ' "status": 400 }"\n'
    )
    assert only_session(text.encode()).outcome == UNKNOWN


def test_terminating_error_without_footer_is_failed_not_interrupted() -> None:
    text = _wrap(
        'PS>TerminatingError(Submit-Renewal): "No ACME account configured. Run Set-PAAccount or'
        ' New-PAAccount first."\n',
        footer=False,
    )
    session = only_session(text.encode())
    assert session.outcome == FAILED
    assert "No ACME account configured" in session.outcome_reason


def test_warning_action_stop_turns_not_due_into_an_error_that_still_means_not_due() -> None:
    text = _wrap(
        'PS>TerminatingError(Submit-Renewal): "The running command stopped because the preference'
        " variable \"WarningPreference\" or common parameter is set to Stop: Order 'example.jp' is not"
        ' recommended for renewal yet. Use -Force to override."\n',
        footer=False,
    )
    session = only_session(text.encode())
    assert session.outcome in (NOT_DUE, INTERRUPTED)
    assert session.outcome != FAILED


def test_error_before_a_later_success_is_recovered() -> None:
    text = _wrap(
        'PS>TerminatingError(Invoke-RestMethod): "ARI request failed."\n'
        "WARNING: Order 'example.jp' is not recommended for renewal yet. Use -Force to override.\n"
    )
    assert only_session(text.encode()).outcome == NOT_DUE


def test_transcript_without_posh_acme_lines_is_unknown() -> None:
    assert only_session(_wrap("hello\n").encode()).outcome == UNKNOWN


def test_cr_only_line_ends_nul_and_stray_bom(transcript_text: Text) -> None:
    text = transcript_text("ps51_not_due_47.txt") + "\ufeff" + transcript_text("ps51_renewed.txt")
    data = text.replace("\n", "\r").encode("utf-8").replace(b"WARNING", b"\x00WARNING")
    parsed = parse_transcript(data, "x.txt")
    assert [s.outcome for s in parsed.sessions] == [NOT_DUE, RENEWED]


def test_session_json_has_the_documented_keys(transcript_bytes: Bytes) -> None:
    parsed = parse_transcript(transcript_bytes("ps51_failed_acme.txt", "ps51"), "acme_log.txt")
    doc = parsed.to_json()
    session = doc["sessions"][0]
    for key in ("start", "end", "user", "machine", "ps_version", "edition", "outcome", "warnings",
                "errors", "acme_problem"):  # fmt: skip
        assert key in session
    assert session["start"] == "2024-12-27T04:17:02"
    assert session["end"] is None
    assert session["acme_problem"]["type"] == "rejectedIdentifier"
    json.dumps(doc)  # serialisable


# ----- result files ---------------------------------------------------------------------------------


def _result(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "schema": "poshbridge.renewal-result/1",
        "host": "host01",
        "order": "host01.poshbridge.test",
        "outcome": "renewed",
        "started": "2024-12-27T03:17:02.1234567Z",
        "finished": "2024-12-27T03:27:13Z",
        "thumbprint": THUMB.lower(),
        "not_after": "2025-03-27T03:17:01Z",
        "renew_after": "2025-02-25T03:17:01Z",
        "error": None,
        "transcript": "renew-20241227-031702.txt",
    }
    body.update(overrides)
    return b"\xef\xbb\xbf" + json.dumps(body).encode("utf-8")


def test_result_file_with_bom() -> None:
    result = parse_result_file(_result(), "renew-20241227-031702.json")
    assert result is not None
    assert result.outcome == RENEWED
    assert result.started == datetime(2024, 12, 27, 3, 17, 2, 123456, tzinfo=timezone.utc)
    assert result.thumbprint == THUMB
    assert result.renew_after == datetime(2025, 2, 25, 3, 17, 1, tzinfo=timezone.utc)


def test_result_file_with_an_acme_error() -> None:
    error = {
        "message": "The request must include a value for the externalAccountBinding field",
        "type": "urn:ietf:params:acme:error:externalAccountRequired",
        "status": 400,
        "detail": "The request must include a value for the externalAccountBinding field",
    }
    result = parse_result_file(_result(outcome="failed", error=error), "renew-x.json")
    assert result is not None and result.outcome == FAILED
    assert result.acme_problem is not None and result.acme_problem.type == "externalAccountRequired"


def test_not_a_result_file() -> None:
    assert parse_result_file(b"not json", "x.json") is None
    assert parse_result_file(b'{"schema": "other/1"}', "x.json") is None
    assert parse_result_file(b"[1, 2]", "x.json") is None
    odd = parse_result_file(_result(outcome="exploded", started=5, thumbprint=None), "x.json")
    assert odd is not None and odd.outcome == UNKNOWN and odd.started is None and odd.thumbprint is None


def test_result_file_is_preferred_over_the_transcript(transcript_bytes: Bytes) -> None:
    transcript = parse_transcript(transcript_bytes("no_footer.txt", "ps51"), "renew-20241227-031702.txt")
    result = parse_result_file(_result(), "renew-20241227-031702.json")
    assert result is not None
    (run,) = pair_runs([transcript], [result])
    assert run.session is not None and run.session.outcome == INTERRUPTED
    assert run.outcome == RENEWED
    assert run.started_utc == result.started


def test_runs_are_ordered_and_unpaired_results_kept() -> None:
    older = parse_transcript(_wrap("WARNING: Order 'a' is not recommended for renewal yet.\n").encode(),
                             "renew-20241226-031702.txt")  # fmt: skip
    lone = parse_result_file(
        _result(transcript="renew-20241228-031702.txt", started="2024-12-28T03:17:02Z"),
        "renew-20241228-031702.json",
    )
    assert lone is not None
    runs = pair_runs([older], [lone])
    assert [r.outcome for r in runs] == [NOT_DUE, RENEWED]
    assert runs[0].started_utc == datetime(2024, 12, 26, 3, 17, 2, tzinfo=timezone.utc)


def _wrap(body: str, *, footer: bool = True) -> str:
    head = (
        "**********************\n"
        "PowerShell transcript start\n"
        "Start time: 20241227031702\n"
        "Username: WORKGROUP\\SYSTEM\n"
        "RunAs User: WORKGROUP\\SYSTEM\n"
        "Configuration Name: \n"
        "Machine: WEB01 (Microsoft Windows NT 10.0.20348.0)\n"
        "Host Application: C:\\Program Files\\PowerShell\\7\\pwsh.dll -File C:\\poshbridge\\renew.ps1\n"
        "Process ID: 1\n"
        "PSVersion: 7.4.6\n"
        "PSEdition: Core\n"
        "**********************\n"
    )
    tail = (
        "**********************\n"
        "PowerShell transcript end\n"
        "End time: 20241227031710\n"
        "**********************\n"
    )
    return head + body + (tail if footer else "")


def test_error_record_message_does_not_swallow_earlier_output() -> None:
    text = _wrap(
        "Transcript started, output file is C:\\poshbridge\\logs\\acme_log.txt\n"
        "Invoke-WebRequest : {\n"
        '  "type": "urn:ietf:params:acme:error:unauthorized",\n'
        '  "detail": "Account is not valid, has status \\"deactivated\\"",\n'
        '  "status": 403\n'
        "}\n"
        "At C:\\Program Files\\WindowsPowerShell\\Modules\\Posh-ACME\\4.29.3\\Private\\"
        "Invoke-ACME.ps1:99 char:9\n"
        "+         $response = Invoke-WebRequest @iwrSplat -EA Stop\n"
        "+         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "    + CategoryInfo          : InvalidOperation: "
        "(System.Net.HttpWebRequest:HttpWebRequest) [Invoke-Web\n"
        "   Request], WebException\n"
        "    + FullyQualifiedErrorId : "
        "WebCmdletWebResponseException,Microsoft.PowerShell.Commands.InvokeWeb\n"
        "   RequestCommand\n",
        footer=False,
    )
    session = only_session(text.encode())
    (record,) = session.errors
    assert record.command == "Invoke-WebRequest"
    assert record.text.startswith("{") and record.text.endswith("}")
    assert record.problem is not None and record.problem.type == "unauthorized"
    assert session.outcome == FAILED
    assert session.acme_problem is not None and session.acme_problem.status == 403
    assert session.output_lines >= 1
    assert record.category == (
        "InvalidOperation: (System.Net.HttpWebRequest:HttpWebRequest) [Invoke-WebRequest], WebException"
    )
    assert record.fq_error_id == (
        "WebCmdletWebResponseException,Microsoft.PowerShell.Commands.InvokeWebRequestCommand"
    )


def test_hardened_script_outcome_line_is_authoritative() -> None:
    caught = 'PS>TerminatingError(Invoke-RestMethod): "ARI request failed."\nposhbridge: outcome not-due\n'
    assert only_session(_wrap(caught).encode()).outcome == NOT_DUE
    failed = _wrap(
        'PS>TerminatingError(Submit-Renewal): "Account is not valid, has status \\"deactivated\\""\n'
        'poshbridge: renewal failed: Account is not valid, has status "deactivated"\n'
        "poshbridge: outcome failed\n"
    )
    session = only_session(failed.encode())
    assert session.outcome == FAILED
    assert session.outcome_reason == 'Account is not valid, has status "deactivated"'


# ----- untrusted text: linear-time forms (timing in benchmarks/untrusted_text.py) -------------------


def test_partial_acme_body_detail_is_decoded_from_a_long_line() -> None:
    from poshbridge.audit.transcript import problem_from_text

    filler = "x" * 100_000
    head = '"type": "urn:ietf:params:acme:error:malformed", "detail" : "a \\"quoted\\" '
    text = head + filler + '", "status'
    problem = problem_from_text(text)
    assert problem is not None and problem.type == "malformed"
    assert problem.detail == 'a "quoted" ' + filler
    unterminated = problem_from_text('"type": "urn:ietf:params:acme:error:malformed", "detail": "' + filler)
    assert unterminated is not None and unterminated.type == "malformed"


def test_concise_view_head_names_the_command_even_after_a_long_line() -> None:
    from poshbridge.audit.transcript.parse import _concise_head

    assert _concise_head("New-PACertificate: C:\\poshbridge\\renew.ps1:40") == "New-PACertificate"
    assert _concise_head("New-PACertificate: C:\\renew.ps1:x") is None
    assert _concise_head("a: " + ":" * 100_000 + "1" * 100_000 + "x") is None
    assert _concise_head("x" * 300 + ": y:1") is None
