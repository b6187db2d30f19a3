"""Task Scheduler's LastTaskResult and LastRunTime, decoded for people (pure: no IO).

``Get-ScheduledTaskInfo`` reports ``LastTaskResult`` as a number: an HRESULT of Task Scheduler (the
SCHED_S_/SCHED_E_ constants, Microsoft Learn "Task Scheduler Error and Success Constants",
learn.microsoft.com/windows/win32/taskschd/task-scheduler-error-and-success-constants), a Win32 error
wrapped as an HRESULT (0x8007xxxx), an NTSTATUS (0xC000xxxx), or the action's own exit code (the
renewal script exits 0 or 1). ``LastRunTime`` is 1999-11-30 (or 0001-01-01) when the task never ran.
"""

from __future__ import annotations

from datetime import datetime

# code -> (short text, is it a problem?)
TASK_RESULTS: dict[int, tuple[str, bool]] = {
    0x0: ("completed successfully", False),
    0x1: ("failed: the script exited with 1 (see its transcript)", True),
    0x2: ("failed: the script exited with 2", True),
    0x41300: ("ready to run", False),  # SCHED_S_TASK_READY
    0x41301: ("running", False),  # SCHED_S_TASK_RUNNING
    0x41302: ("disabled", True),  # SCHED_S_TASK_DISABLED
    0x41303: ("has not yet run", False),  # SCHED_S_TASK_HAS_NOT_RUN
    0x41304: ("no more runs scheduled", True),  # SCHED_S_TASK_NO_MORE_RUNS
    0x41305: ("not scheduled (a property needed to run on a schedule is not set)", True),
    0x41306: ("the last run was terminated by the user", True),  # SCHED_S_TASK_TERMINATED
    0x41307: ("no valid triggers (none, or all disabled)", True),  # SCHED_S_TASK_NO_VALID_TRIGGERS
    0x41308: ("event triggers have no set run times", False),  # SCHED_S_EVENT_TRIGGER
    0x41325: ("queued", False),  # SCHED_S_TASK_QUEUED
    0x8004130F: ("no account information for the task (re-register it)", True),
    0x8004131F: ("an instance of the task is already running", True),  # SCHED_E_ALREADY_RUNNING
    0x80041326: ("the task is disabled", True),  # SCHED_E_TASK_DISABLED
    0x80070002: ("file not found (the script path or powershell.exe)", True),
    0x80070005: ("access denied", True),
    0x8007010B: ("the start-in directory is invalid", True),
    0x800704DD: ("the account is not logged on", True),
    0x800710E0: ("refused (the operator or administrator refused the request)", True),
    0xC000013A: ("terminated (the console was closed or Ctrl+C)", True),
}

NEVER_BEFORE_YEAR = 2000


def hex_code(code: int) -> str:
    """``0x41303``; small exit codes stay decimal."""
    return f"0x{code & 0xFFFFFFFF:X}" if code > 9 or code < 0 else str(code)


def describe_task_result(code: int | None) -> str:
    """``"has not yet run (0x41303)"``; an unknown code is shown as its hex value alone."""
    if code is None:
        return "-"
    known = TASK_RESULTS.get(code & 0xFFFFFFFF)
    if known is None:
        return hex_code(code)
    return known[0] if "exited with" in known[0] else f"{known[0]} ({hex_code(code)})"


def is_problem(code: int | None) -> bool | None:
    """True for a code that says something is wrong, False for a benign one, None when unknown."""
    if code is None:
        return None
    known = TASK_RESULTS.get(code & 0xFFFFFFFF)
    return known[1] if known else None


def never_is_none(value: datetime | None) -> datetime | None:
    """Task Scheduler's "never" (1999-11-30, 0001-01-01) as None."""
    if value is None or value.year < NEVER_BEFORE_YEAR:
        return None
    return value
