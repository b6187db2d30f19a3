"""The ``web.config`` that lets IIS serve the WebRoot plugin's extension-less challenge files.

Posh-ACME's WebRoot plugin writes ``<webroot>\\.well-known\\acme-challenge\\<token>`` without an
extension; IIS's static file handler refuses files whose extension has no MIME map, so the CA's
http-01 request fails (the manual's first-run error). Placed in
``<webroot>\\.well-known\\acme-challenge`` (so it changes nothing else on the site), this file is the
manual's MIME step ("." → text/plain) as configuration.
"""

from __future__ import annotations

import ntpath

from poshbridge.generate import read_resource

WEB_CONFIG_RESOURCE = "challenge-web.config"


def challenge_web_config() -> str:
    """The document text (LF line ends; UTF-8 declared)."""
    return read_resource(WEB_CONFIG_RESOURCE)


def challenge_dir(webroot: str) -> str:
    r"""Where WebRoot writes tokens: ``<webroot>\.well-known\acme-challenge``."""
    return ntpath.join(webroot, ".well-known", "acme-challenge")


def challenge_web_config_path(webroot: str) -> str:
    r"""Where the file goes: ``<webroot>\.well-known\acme-challenge\web.config``."""
    return ntpath.join(challenge_dir(webroot), "web.config")
