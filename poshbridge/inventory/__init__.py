"""Inventory: load (YAML), model (typed HostConfig), validate (all problems at once), secrets, targets."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig, Inventory, Problem, SecretRef

__all__ = ["HostConfig", "Inventory", "Problem", "SecretRef"]
