"""Host health: one model of what makes a host OK, WARN, CRIT or UNKNOWN, used by ``status`` and
``audit`` alike (:mod:`poshbridge.health.model`), and the rules by which an OCSP answer is believed
(:mod:`poshbridge.health.ocsp_verify`). Pure: ``now`` is always a parameter."""
