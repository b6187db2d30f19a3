"""A failed renewal run explained for a person (pure): the CA's own explanation of the ACME problem
(the condition from the CA's error table, English or Japanese) and the fix. Used by ``audit``'s text
output and the HTML fleet report."""

from __future__ import annotations

from dataclasses import dataclass

from poshbridge.audit.transcript import FAILED, RenewalRun

DEFAULT_FIX = (
    "read the run's transcript on the host (renewal.log_dir), fix the cause, then `poshbridge renew HOST`"
)


@dataclass(frozen=True)
class Explanation:
    host: str
    source: str
    problem: str  # "unauthorized (HTTP 403)" or the run's reason
    message: str  # what went wrong, in the host's words
    ca_message: str | None
    condition: str | None
    fix: str

    def lines(self, lang: str = "en") -> list[str]:
        out = [f"{self.host}: last run {self.source} failed: {self.problem}: {self.message}".rstrip(": ")]
        if self.ca_message:
            out.append(f"  CA message: {self.ca_message}")
        if self.condition:
            out.append(("  発生条件: " if lang == "ja" else "  condition: ") + self.condition)
        out.append(f"  fix: {self.fix}")
        return out


def explain_run(host: str, run: RenewalRun, lang: str = "en") -> Explanation | None:
    """None for a run that did not fail."""
    if run.outcome != FAILED:
        return None
    problem = run.acme_problem
    if problem is None:
        return Explanation(host, run.source, "error", run.reason, None, None, DEFAULT_FIX)
    head = problem.type or "ACME error"
    if problem.status is not None:
        head += f" (HTTP {problem.status})"
    return Explanation(
        host=host,
        source=run.source,
        problem=head,
        message=problem.detail or run.reason,
        ca_message=problem.table_message,
        condition=problem.condition(lang),
        fix=problem.hint or DEFAULT_FIX,
    )
