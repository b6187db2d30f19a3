"""A fake host connection for fast tests of the runner (no lab, no sockets).

:class:`FakeHost` is the host's state as the runner reads it: ``reads`` maps a statement label to the
output that statement answers. ``effects`` maps the label of a changing statement to a function that
changes ``reads`` (what Windows would do) and may return an :class:`Answer` of its own; ``answers``
script a statement's answer once or always (an error in the error stream, a terminating error that stops
the batch, a statement that did not run). :class:`FakeSession` follows
:class:`poshbridge.runner.session.Session`, records every batch sent, and can fail an invocation with a
transient connection error.

How a batch runs follows Windows: every statement runs in order; an error record does not stop the
batch; a terminating error (``-ErrorAction Stop``, a throw) stops it there with ``had_errors``
(PowerShell.cs BatchInvocationWorkItem in github:PowerShell/PowerShell).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import Batch, Secret, Statement
from poshbridge.remote.session import BatchResult, RemoteConnectionError, RemoteError, StatementResult


@dataclass
class Answer:
    output: list[Any] = field(default_factory=list)
    errors: list[RemoteError] = field(default_factory=list)
    terminating: bool = False  # stops the batch after this statement (had_errors)
    ran: bool = True


Effect = Callable[[Statement, "FakeHost"], "Answer | None"]


@dataclass
class FakeHost:
    reads: dict[str, list[Any]] = field(default_factory=dict)
    effects: dict[str, Effect] = field(default_factory=dict)
    answers: dict[str, list[Answer]] = field(default_factory=dict)  # scripted, first one used first
    sticky: dict[str, Answer] = field(default_factory=dict)  # scripted, every time
    edition: str = "Desktop"
    fail_next: list[str] = field(default_factory=list)  # labels: an invocation with one fails (once each)
    sent: list[Batch] = field(default_factory=list)
    opened: int = 0
    reopened: int = 0
    closed: int = 0

    def labels_sent(self) -> list[str]:
        return [s.label for batch in self.sent for s in batch.statements]

    def answer(self, statement: Statement) -> Answer:
        label = statement.label
        if label in self.sticky:
            return self.sticky[label]
        queued = self.answers.get(label)
        if queued:
            return queued.pop(0)
        effect = self.effects.get(label)
        if effect is not None:
            return effect(statement, self) or Answer()
        return Answer(output=list(self.reads.get(label, [])))


class FakeSession:
    """The :class:`~poshbridge.runner.session.Session` of a :class:`FakeHost`."""

    def __init__(self, host: FakeHost) -> None:
        self.fake = host
        self.open = False

    @property
    def ps_edition(self) -> str:
        return self.fake.edition

    def __enter__(self) -> FakeSession:
        self.open = True
        self.fake.opened += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.open:
            self.open = False
            self.fake.closed += 1

    def reopen(self) -> None:
        self.fake.reopened += 1
        self.open = True

    def run(self, batch: Batch, *, idempotent: bool = False) -> BatchResult:
        assert self.open, "run on a session that is not open"
        self.fake.sent.append(batch)
        labels = {s.label for s in batch.statements}
        for label in list(self.fake.fail_next):
            if label in labels:
                self.fake.fail_next.remove(label)
                error = RemoteConnectionError("dropped", "fake", "the connection was closed by the host")
                error.transient = True
                raise error
        result = BatchResult(statements=[StatementResult(label=s.label) for s in batch.statements])
        for index, statement in enumerate(batch.statements):
            answer = self.fake.answer(statement)
            target = result.statements[index]
            target.ran = answer.ran
            target.output = list(answer.output)
            for error in answer.errors:
                error.statement = index
                target.errors.append(error)
                result.errors.append(error)
            if answer.terminating:
                result.had_errors = True
                result.failed_statement = index
                break
        return result


def factory(fake: FakeHost) -> Callable[[HostConfig, Any, Secret | None], FakeSession]:
    """A ``session_factory`` that connects every host to ``fake``."""

    def connect(host: HostConfig, ctx: Any, password: Secret | None) -> FakeSession:
        return FakeSession(fake)

    return connect


def param(statement: Statement, name: str) -> Any:
    """The value of parameter ``name`` of the statement's first cmdlet that has it."""
    for cmd in statement.cmds:
        for key, value in cmd.params:
            if key == name:
                return value
    raise KeyError(name)
