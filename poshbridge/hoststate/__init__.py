"""One model of a host's state, read by ``status`` and ``audit`` alike (pure: no IO).

- :mod:`.batch` — the ONE read batch (labels, statements; ``audit`` adds its log reads in the middle)
  and the small follow-up batch of Posh-ACME's certificate and chain files for the OCSP checks;
- :mod:`.state` — the ONE facts builder: statement answers → :class:`~.state.HostState` →
  :class:`poshbridge.health.model.HostFacts`;
- :mod:`.binding` — the ONE binding matcher (exact ``<IP>:<Port>:<HostHeader>``, as Set-IISCertificate);
- :mod:`.served` — the ONE served-certificate model (what the TLS probe saw);
- the task model is :class:`poshbridge.health.model.TaskInfo` (built once, in :mod:`.state`).

This module imports nothing on purpose: :mod:`poshbridge.health.model` imports :mod:`.served`.
"""
