"""Health facts of a host: built by the one host-state model (:mod:`poshbridge.hoststate`).

``status`` and ``audit`` read a host with the same batch (:mod:`poshbridge.hoststate.batch`), turn the
answers into a :class:`~poshbridge.hoststate.state.HostState` and that into the
:class:`~poshbridge.health.model.HostFacts` judged by :func:`poshbridge.health.model.evaluate`
(:func:`~poshbridge.hoststate.state.host_facts`); there is no second way.
"""

from __future__ import annotations

from poshbridge.hoststate.state import HostState, certificate_info, host_facts, read_state

__all__ = ["HostState", "certificate_info", "host_facts", "read_state"]
