"""The lab's splits (issue 10) keep the names callers and tests import from the old places.

(The size limit itself is checked for all of poshbridge/ by test_module_size.py.)
"""

from __future__ import annotations


def test_the_split_modules_keep_their_old_import_names() -> None:
    from poshbridge.lab.cmdlets import files, poshacme
    from poshbridge.lab.cmdlets.encodings import decode_bytes
    from poshbridge.lab.cmdlets.poshacme.store import import_config
    from poshbridge.lab.psrp import LabRunspacePool, split_statements, to_error_record
    from poshbridge.lab.psrp_errors import to_error_record as moved_to_error_record
    from poshbridge.lab.psrp_pool import LabRunspacePool as moved_pool

    assert files.decode_bytes is decode_bytes
    assert poshacme.import_config is import_config
    assert to_error_record is moved_to_error_record
    assert LabRunspacePool is moved_pool
    assert callable(split_statements)


def test_importing_the_poshacme_package_registers_every_posh_acme_cmdlet() -> None:
    import poshbridge.lab.cmdlets  # noqa: F401 - registers the cmdlets
    from poshbridge.lab.engine.registry import REGISTRY

    posh_acme = sorted(name for name, info in REGISTRY.items() if info.module == "Posh-ACME")
    assert posh_acme == [
        "get-paaccount",
        "get-paauthorization",
        "get-pacertificate",
        "get-paorder",
        "get-paserver",
        "new-paaccount",
        "new-pacertificate",
        "revoke-pacertificate",
        "set-paaccount",
        "set-paorder",
        "set-paserver",
        "submit-renewal",
    ]
