"""poshbridge.iis.audit on the controller, through poshbridge (plugin_utils/poshbridge_action.py)."""

from __future__ import annotations

from ansible_collections.poshbridge.iis.plugins.plugin_utils.poshbridge_action import PoshbridgeAction


class ActionModule(PoshbridgeAction):
    COMMAND = "audit"
