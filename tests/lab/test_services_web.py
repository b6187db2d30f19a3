"""The lab's IIS stand-in: static files with IIS's web.config MIME rules, and HTTPS with the bound cert.

Given a fresh twin (a stock IIS site), when a client asks for an extensionless file (an ACME http-01
token), then it gets what IIS gives: 404.3 until a web.config maps ".", 500.19 when a web.config adds
"." a second time; and the site's HTTPS port presents whatever certificate the binding names.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from labkit import (
    CHALLENGE_WEB_CONFIG,
    LabHandle,
    bind_certificate,
    http_get,
    issue_certificate,
    pfx_bytes,
    self_signed,
    served_certificate,
    thumbprint,
)

from poshbridge.lab.services.web import (
    DEFAULT_MIME_MAP,
    ConfigError,
    apply_static_content,
    file_extension,
)

DUPLICATE = (
    "Cannot add duplicate collection entry of type 'mimeMap' with unique key attribute "
    "'fileExtension' set to '.'"
)
ADD_DOT_ONLY = """<configuration><system.webServer><staticContent>
  <mimeMap fileExtension="." mimeType="text/plain" />
</staticContent></system.webServer></configuration>"""
CLEAR_THEN_DOT = """<configuration><system.webServer><staticContent>
  <clear />
  <mimeMap fileExtension="." mimeType="application/octet-stream" />
</staticContent></system.webServer></configuration>"""


# ----- the rules, without a server ---------------------------------------------------------------------
def test_extension_of_a_token_is_dot() -> None:
    assert file_extension("yccO84wPYmuLvbd44F7Bz42Ivn8qria2zWPjNbRwjfc") == "."
    assert file_extension("iisstart.htm") == ".htm"
    assert file_extension("README.TXT") == ".txt"


def test_stock_iis_has_no_dot_mapping_and_the_manual_fix_adds_it() -> None:
    assert "." not in DEFAULT_MIME_MAP
    fixed = apply_static_content(DEFAULT_MIME_MAP, CHALLENGE_WEB_CONFIG.encode(), "C:\\w\\web.config")
    assert fixed["."] == "text/plain"
    # the same file again below (remove first) is fine: that is why the manual writes <remove/>
    again = apply_static_content(fixed, CHALLENGE_WEB_CONFIG.encode(), "C:\\w\\a\\web.config")
    assert again["."] == "text/plain"


def test_adding_dot_twice_without_remove_is_the_duplicate_entry_error() -> None:
    parent = apply_static_content(DEFAULT_MIME_MAP, ADD_DOT_ONLY.encode(), "C:\\w\\web.config")
    with pytest.raises(ConfigError) as caught:
        apply_static_content(parent, ADD_DOT_ONLY.encode(), "C:\\w\\x\\web.config")
    assert caught.value.message == DUPLICATE
    assert caught.value.config_file == "C:\\w\\x\\web.config"


def test_clear_empties_the_inherited_map() -> None:
    cleared = apply_static_content(DEFAULT_MIME_MAP, CLEAR_THEN_DOT.encode(), "C:\\w\\web.config")
    assert cleared == {".": "application/octet-stream"}


def test_web_config_that_is_not_xml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not well-formed XML"):
        apply_static_content(DEFAULT_MIME_MAP, b"<configuration>", "C:\\w\\web.config")


# ----- served by the lab -----------------------------------------------------------------------------------
def _webroot(lab: LabHandle, host: str) -> Path:
    return lab.twin(host).real_path("C:\\inetpub\\wwwroot")


def test_fresh_site_serves_iisstart_and_known_types(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    domain = h["domains"][0]
    status, headers, body = http_get(h["site_http_port"], "/", domain)
    assert status == 200 and b"IIS Windows Server" in body
    assert headers["content-type"] == "text/html"
    root = _webroot(lab, lab_host)
    (root / "notes.txt").write_text("plain", "utf-8")
    (root / "data.json").write_text("{}", "utf-8")
    assert http_get(h["site_http_port"], "/notes.txt", domain)[1]["content-type"] == "text/plain"
    assert http_get(h["site_http_port"], "/data.json", domain)[1]["content-type"] == "application/json"
    assert http_get(h["site_http_port"], "/missing.txt", domain)[0] == 404


def test_extensionless_file_is_404_without_web_config_then_200_with_it(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    domain = h["domains"][0]
    challenge = _webroot(lab, lab_host) / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "token123").write_text("token123.thumb", "ascii")
    path = "/.well-known/acme-challenge/token123"

    status, _, body = http_get(h["site_http_port"], path, domain)
    assert status == 404
    assert b"404.3" in body

    (challenge / "web.config").write_text(CHALLENGE_WEB_CONFIG, "utf-8")
    status, headers, body = http_get(h["site_http_port"], path, domain)
    assert (status, body) == (200, b"token123.thumb")
    assert headers["content-type"] == "text/plain"
    # web.config itself is never served
    assert http_get(h["site_http_port"], "/.well-known/acme-challenge/web.config", domain)[0] == 404


def test_duplicate_dot_mapping_in_a_child_folder_is_http_500(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    domain = h["domains"][0]
    well_known = _webroot(lab, lab_host) / ".well-known"
    challenge = well_known / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "tok").write_text("tok.thumb", "ascii")
    (well_known / "web.config").write_text(ADD_DOT_ONLY, "utf-8")  # parent defines "."
    (challenge / "web.config").write_text(ADD_DOT_ONLY, "utf-8")  # no <remove/>: duplicate
    status, _, body = http_get(h["site_http_port"], "/.well-known/acme-challenge/tok", domain)
    assert status == 500
    assert DUPLICATE.encode() in body.replace(b"&#x27;", b"'")

    (challenge / "web.config").write_text(CHALLENGE_WEB_CONFIG, "utf-8")  # with <remove/>: fine
    status, _, body = http_get(h["site_http_port"], "/.well-known/acme-challenge/tok", domain)
    assert (status, body) == (200, b"tok.thumb")


def test_front_routes_http01_by_host_header(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    front = lab.data["pebble"]["http_port"]
    (_webroot(lab, lab_host) / "which.txt").write_text(lab_host, "utf-8")
    for domain in h["domains"]:
        assert http_get(front, "/which.txt", f"{domain}:{front}")[::2] == (200, lab_host.encode())
    assert http_get(front, "/which.txt", "nobody.example")[0] == 400


def test_https_without_a_bound_certificate_fails_the_handshake(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        served_certificate(h["site_https_port"], h["domains"][0])


def test_https_serves_the_bound_certificate_and_a_new_binding_at_once(lab: LabHandle, lab_host: str) -> None:
    h = lab.host(lab_host)
    twin = lab.twin(lab_host)
    domain = h["domains"][0]
    first_cert, first_key = self_signed(domain, h["domains"])
    first = bind_certificate(twin, pfx_bytes(first_cert, first_key))
    assert thumbprint(served_certificate(h["site_https_port"], domain)) == first

    second_cert, second_key = self_signed(domain, h["domains"])
    second = bind_certificate(twin, pfx_bytes(second_cert, second_key))
    assert second != first
    assert thumbprint(served_certificate(h["site_https_port"], domain)) == second
    assert thumbprint(served_certificate(h["site_https_port"], None)) == second  # catch-all binding


def test_https_serves_a_pebble_certificate_that_verifies(lab: LabHandle, lab_host: str) -> None:
    from cryptography.hazmat.primitives import serialization

    h = lab.host(lab_host)
    domain = h["domains"][0]
    issued = issue_certificate(lab, lab_host)
    key = serialization.load_pem_private_key(issued.key_pem, password=None)
    thumb = bind_certificate(lab.twin(lab_host), pfx_bytes(issued.cert, key, [issued.issuer]))
    served = served_certificate(h["site_https_port"], domain, cafile=lab.ca_bundle)  # chain + name verified
    assert thumbprint(served) == thumb
    status, _, body = http_get(h["site_https_port"], "/", domain, tls_cafile=lab.ca_bundle)
    assert status == 200 and b"IIS Windows Server" in body
