"""IISAdministration: Get-IISSite and Get-IISSiteBinding over the twin's ``iis.json`` (IISState)."""

from __future__ import annotations

from poshbridge.lab.engine.objects import iis_binding, iis_site
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record

MODULE = "IISAdministration"


def site_missing(ctx: Invocation, name: str) -> None:
    ctx.error(
        error_record(
            f"Web site '{name}' does not exist.",
            "InvalidArgument",
            "InvalidArgument",
            exception_type="System.ArgumentException",
            target=name,
        )
    )


@cmdlet(
    "Get-IISSite",
    [Param("Name", "string[]", position=0, from_pipeline=True, by_property_name=True)],
    output_type="Microsoft.Web.Administration.Site",
    module=MODULE,
    class_name="Microsoft.IIS.Powershell.Commands.GetIISSiteCommand",
)
def get_iis_site(ctx: Invocation) -> None:
    sites = ctx.host.iis().load()["sites"]
    names = ctx.get("Name")
    if not names:
        for name in sorted(sites, key=lambda n: int(sites[n].get("id", 0))):
            ctx.output(iis_site(name, sites[name]))
        return
    for wanted in names:
        match = next((n for n in sites if n.lower() == wanted.lower()), None)
        if match is None:
            site_missing(ctx, wanted)
        else:
            ctx.output(iis_site(match, sites[match]))


@cmdlet(
    "Get-IISSiteBinding",
    [
        Param("Name", position=0, mandatory=True, from_pipeline=True, by_property_name=True),
        Param("BindingInformation", position=1),
        Param("Protocol", position=2),
    ],
    output_type="Microsoft.Web.Administration.Binding",
    module=MODULE,
    class_name="Microsoft.IIS.Powershell.Commands.GetIISSiteBindingCommand",
)
def get_iis_site_binding(ctx: Invocation) -> None:
    name = str(ctx.get("Name"))
    site = ctx.host.iis().site(name)
    if site is None:
        site_missing(ctx, name)
        return
    info = ctx.get("BindingInformation")
    protocol = ctx.get("Protocol")
    for binding in site.get("bindings", []):
        if info and str(binding.get("binding_information", "")).lower() != str(info).lower():
            continue
        if protocol and str(binding.get("protocol", "")).lower() != str(protocol).lower():
            continue
        ctx.output(iis_binding(binding))
