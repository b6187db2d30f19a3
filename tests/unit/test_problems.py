"""The CA's error table (JPRS manual §6.2) and the classification of ACME problems."""

from __future__ import annotations

import pytest

from poshbridge.poshacme.problems import (
    HINT_BAD_NONCE,
    HINT_CONTACTS,
    HINT_EAB_MISSING,
    HINT_EAB_REJECTED,
    HINT_HTTP01_MIME,
    JPRS_TABLE,
    classify_problem,
    problem_from_exception_data,
)


def test_the_table_has_every_row_of_the_manual() -> None:
    assert len(JPRS_TABLE) == 29
    assert sum(1 for r in JPRS_TABLE if r.type == "malformed") == 12
    assert {r.status for r in JPRS_TABLE if r.type == "malformed"} == {400, 405, 415}
    unauthorized = next(r for r in JPRS_TABLE if r.type == "unauthorized")
    assert unauthorized.status == 401
    assert any(r.message == "Please agree to the term of service." for r in JPRS_TABLE)
    connection = next(r for r in JPRS_TABLE if r.type == "connection")
    assert connection.message == "The server could not connect to validation target : [%s]"
    assert all(r.condition_ja and r.condition_en for r in JPRS_TABLE)


@pytest.mark.parametrize("row", JPRS_TABLE, ids=lambda r: f"{r.type}-{r.message[:20]}")
def test_each_message_of_the_table_is_recognised_with_and_without_the_type(row: object) -> None:
    message = row.message.replace("[%s]", "example.jp").replace("[%d]", "7")  # type: ignore[attr-defined]
    for given_type in (None, "urn:ietf:params:acme:error:" + row.type):  # type: ignore[attr-defined]
        problem = classify_problem(type=given_type, detail=message)
        assert problem.type == row.type  # type: ignore[attr-defined]
        assert problem.table_message == row.message  # type: ignore[attr-defined]
        assert row.condition_en in (problem.condition_en or "")  # type: ignore[attr-defined]
        assert row.condition_ja in (problem.condition_ja or "")  # type: ignore[attr-defined]
        assert problem.status == row.status  # type: ignore[attr-defined]
        assert problem.hint


def test_shared_messages_name_both_conditions() -> None:
    problem = classify_problem(type="malformed", detail="Unable to accept order")
    assert (
        problem.condition_en
        == "The order object's status is invalid / The authorization object's status is invalid"
    )
    assert "オーダーオブジェクト" in (problem.condition_ja or "") and "認可オブジェクト" in (
        problem.condition_ja or ""
    )


def test_authorization_invalid_message_form_gives_fqdn_and_detail() -> None:
    problem = classify_problem(
        message="Authorization invalid for www.example.jp: "
        "The server could not connect to validation target :"
        " www.example.jp"
    )
    assert problem.type == "connection"
    assert problem.fqdn == "www.example.jp"
    assert problem.condition_ja == "FQDN の審査対象のサーバーに接続できない場合"


def test_http01_404_points_at_the_mime_fix() -> None:
    problem = classify_problem(
        type="urn:ietf:params:acme:error:unauthorized",
        status=403,
        message="Authorization invalid for host01.test: Non-200 status code from HTTP: "
        "http://host01.test/.well-known/acme-challenge/tok returned 404",
    )
    assert problem.type == "unauthorized" and problem.status == 403
    assert problem.hint == HINT_HTTP01_MIME
    assert "web.config" in problem.hint and "mimeMap" in problem.hint


def test_eab_missing_and_rejected() -> None:
    missing = classify_problem(
        message="The current ACME server requires external account credentials to create a new ACME account."
        " Please run New-PAAccount with the ExtAcctKID and ExtAcctHMACKey parameters."
    )
    assert missing.type == "externalAccountRequired" and missing.hint == HINT_EAB_MISSING
    rejected = problem_from_exception_data(
        {
            "type": "urn:ietf:params:acme:error:unauthorized",
            "status": 403,
            "detail": "external account binding JWS verification error: "
            "square/go-jose: error in cryptographic primitive",
        },
    )
    assert rejected.type == "unauthorized" and rejected.hint == HINT_EAB_REJECTED
    assert "14 days" in rejected.hint
    assert classify_problem(type="malformed", detail="Unable to create account").hint == HINT_EAB_REJECTED


def test_contacts_bad_nonce_and_other_hints() -> None:
    contacts = classify_problem(type="malformed", detail="The contact information is invalid: 7")
    assert contacts.hint == HINT_CONTACTS and "1 to 6" in contacts.hint
    nonce = classify_problem(type="badNonce")
    assert nonce.transient and nonce.hint == HINT_BAD_NONCE
    assert classify_problem(type="rateLimited").transient
    assert classify_problem(type="rateLimited").condition_en
    assert "CAA" in (classify_problem(type="caa").hint or "")
    assert classify_problem(type="rejectedIdentifier").hint


def test_json_body_in_a_message() -> None:
    problem = classify_problem(
        message='{ "type": "urn:ietf:params:acme:error:rejectedIdentifier", '
        '"detail": "The server will not issue'
        ' certificates for the identifier", "status": 400 }'
    )
    assert problem.type == "rejectedIdentifier" and problem.status == 400


def test_unrelated_message_is_not_an_acme_problem() -> None:
    problem = classify_problem(message="Cannot find path 'C:\\x' because it does not exist.")
    assert problem.type is None and problem.fqdn is None
    assert set(problem.to_json()) == {
        "type",
        "urn",
        "status",
        "detail",
        "fqdn",
        "table_message",
        "condition_en",
        "condition_ja",
        "hint",
        "transient",
    }


# ----- linear-time forms (shapes checked in test_regex_linear.py; timing in benchmarks/untrusted_text.py) --


def test_new_order_status_form_reads_the_word_before_it_even_when_long() -> None:
    name = "a" * 50_000 + ".example.jp"
    problem = classify_problem(message=f"Error: {name} authorization status is 'invalid'. Check it.")
    assert problem.fqdn == name
    assert classify_problem(message="x" * 50_000 + " authorization status is 'invalid").fqdn is None
    assert classify_problem(message=" authorization status is 'invalid'").fqdn is None


@pytest.mark.parametrize(
    ("detail", "fqdn"),
    [
        ("The FQDN is invalid: [bad..name]", "bad..name"),
        ("the fqdn is invalid: bad..name and more", "bad..name"),
        ("The server could not connect to validation target : [www.example.jp] timeout", "www.example.jp"),
    ],
)
def test_a_trailing_placeholder_gives_its_value(detail: str, fqdn: str) -> None:
    problem = classify_problem(type="malformed" if "FQDN" in detail.upper() else "connection", detail=detail)
    assert problem.table_message is not None and problem.fqdn == fqdn


def test_table_rows_match_long_details_without_spaces() -> None:
    detail = "The FQDN is invalid: [" + "x" * 200_000 + "]"
    problem = classify_problem(type="malformed", detail=detail)
    assert problem.table_message == "The FQDN is invalid: [%s]"
    assert problem.fqdn == "x" * 200_000
    assert classify_problem(message="x" * 200_000).type is None
