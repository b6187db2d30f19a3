"""A small structural checker: does a regex run in linear time on any input?

Python's ``re`` backtracks. A pattern is linear when no two unbounded repeats can share the same
characters without a separator that ends the first one deterministically, no unbounded repeat
nests another, no unbounded repeat of an alternation has branches that start alike, and (for
``search``/``sub``/``findall``/``finditer``, which retry at every offset) every unbounded repeat is
preceded by a required character it cannot consume, so retries cannot rescan the same run.

The checker is conservative: it may flag a pattern that happens to be linear (then rewrite the
pattern or the code around it), but a flagged-free pattern has none of the shapes above.
Character sets are compared over a sample alphabet (ASCII plus a few non-ASCII characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

ALPHABET = [chr(i) for i in range(128)] + list("\x85\xa0ßéİſ：日\u2028\u3000\ufeff")
_UNBOUNDED = _c.MAXREPEAT
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}
if hasattr(_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(_c.POSSESSIVE_REPEAT)
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
_CATEGORY_RE = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


@dataclass(frozen=True)
class Finding:
    pattern: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pattern!r}: {self.reason}"


class _Checker:
    def __init__(self, pattern: str, flags: int, search: bool) -> None:
        self.pattern = pattern
        self.ignore_case = bool(flags & re.IGNORECASE)
        self.dotall = bool(flags & re.DOTALL)
        self.search = search
        self.findings: list[Finding] = []

    # -- character sets over the sample alphabet --
    def _fold(self, chars: set[str]) -> frozenset[str]:
        if not self.ignore_case:
            return frozenset(chars)
        return frozenset(
            chars
            | {c.lower() for c in chars if len(c.lower()) == 1}
            | {c.upper() for c in chars if len(c.upper()) == 1}
        )

    def _in_set(self, items: list[tuple[Any, Any]]) -> frozenset[str]:
        negate = False
        out: set[str] = set()
        for op, av in items:
            if op is _c.NEGATE:
                negate = True
            elif op is _c.LITERAL:
                out.add(chr(av))
            elif op is _c.RANGE:
                out.update(c for c in ALPHABET if av[0] <= ord(c) <= av[1])
            elif op is _c.CATEGORY:
                out.update(c for c in ALPHABET if re.match(_CATEGORY_RE.get(av, r"[\s\S]"), c))
            else:  # unknown set member: assume anything
                out.update(ALPHABET)
        folded = self._fold(out)
        return frozenset(ALPHABET) - folded if negate else folded

    def first(self, items: list[tuple[Any, Any]]) -> tuple[frozenset[str], bool]:
        """(characters a sequence can start with, whether it can match empty)."""
        out: set[str] = set()
        for item in items:
            chars, nullable = self.first_item(item)
            out |= chars
            if not nullable:
                return frozenset(out), False
        return frozenset(out), True

    def first_item(self, item: tuple[Any, Any]) -> tuple[frozenset[str], bool]:
        op, av = item
        if op is _c.LITERAL:
            return self._fold({chr(av)}), False
        if op is _c.NOT_LITERAL:
            return frozenset(ALPHABET) - self._fold({chr(av)}), False
        if op is _c.ANY:
            return frozenset(c for c in ALPHABET if self.dotall or c != "\n"), False
        if op is _c.IN:
            return self._in_set(av), False
        if op in _ZERO_WIDTH:
            return frozenset(), True
        if op is _c.SUBPATTERN:
            return self.first(list(av[-1]))
        if op is _c.BRANCH:
            out: set[str] = set()
            nullable = False
            for alt in av[1]:
                chars, empty = self.first(list(alt))
                out |= chars
                nullable = nullable or empty
            return frozenset(out), nullable
        if op in _REPEATS:
            low, _high, body = av
            chars, empty = self.first(list(body))
            return chars, empty or low == 0
        if op is _c.ATOMIC_GROUP if hasattr(_c, "ATOMIC_GROUP") else False:
            return self.first(list(av))
        return frozenset(ALPHABET), True  # group references and the like: anything

    def all_chars(self, items: list[tuple[Any, Any]]) -> frozenset[str]:
        """Every character a sequence can consume anywhere."""
        out: set[str] = set()
        for op, av in items:
            if op is _c.SUBPATTERN:
                out |= self.all_chars(list(av[-1]))
            elif op is _c.BRANCH:
                for alt in av[1]:
                    out |= self.all_chars(list(alt))
            elif op in _REPEATS:
                out |= self.all_chars(list(av[2]))
            elif op in _ZERO_WIDTH:
                continue
            else:
                out |= self.first_item((op, av))[0]
        return frozenset(out)

    def has_unbounded(self, items: list[tuple[Any, Any]]) -> bool:
        for op, av in items:
            if op in _REPEATS and (av[1] == _UNBOUNDED or self.has_unbounded(list(av[2]))):
                return True
            if op is _c.SUBPATTERN and self.has_unbounded(list(av[-1])):
                return True
            if op is _c.BRANCH and any(self.has_unbounded(list(alt)) for alt in av[1]):
                return True
        return False

    # -- the rules --
    def flag(self, reason: str) -> None:
        self.findings.append(Finding(self.pattern, reason))

    def check(self, items: list[tuple[Any, Any]], *, prefix: list[frozenset[str]] | None) -> None:
        """``items``: a sequence followed by everything that can come after it.
        ``prefix``: for search mode, the characters of required items seen before (None: anchored)."""
        items = _flatten(items)
        required_before: list[frozenset[str]] = [] if prefix is None else list(prefix)
        for index, (op, av) in enumerate(items):
            rest = items[index + 1 :]
            if op is _c.BRANCH:
                alts = [list(alt) for alt in av[1]]
                for alt in alts:
                    self.check(alt + rest, prefix=self._prefix(required_before, prefix))
                return  # the branches carried the rest
            if op in _REPEATS:
                low, high, body = av
                body_items = list(body)
                if high == _UNBOUNDED:
                    if self.has_unbounded(body_items):
                        self.flag("an unbounded repeat inside an unbounded repeat")
                    self._check_alternation(body_items)
                    chars = self.all_chars(body_items)
                    can_fail_after = any(
                        o in _ZERO_WIDTH or not self.first_item((o, a))[1] for o, a in _flatten(rest)
                    )
                    if (
                        prefix is not None
                        and can_fail_after
                        and not any(not (seen & chars) for seen in required_before)
                    ):
                        self.flag(
                            "search mode: an unbounded repeat not preceded by a character it cannot "
                            "consume (every retry rescans the run)"
                        )
                    self._check_followers(chars, rest)
                    self.check(body_items, prefix=None)
                else:
                    self.check(body_items + rest, prefix=self._prefix(required_before, prefix))
                    if high > 1 and self.has_unbounded(body_items):
                        self.flag("an unbounded repeat inside a repeat")
                    if low == 0:
                        continue
                    required_before.append(self.first(body_items)[0])
                    continue
            chars, nullable = self.first_item((op, av))
            if not nullable:
                required_before.append(chars)

    @staticmethod
    def _prefix(
        required_before: list[frozenset[str]], prefix: list[frozenset[str]] | None
    ) -> list[frozenset[str]] | None:
        return None if prefix is None else list(required_before)

    def _check_alternation(self, body: list[tuple[Any, Any]]) -> None:
        flat = _flatten(body)
        if len(flat) == 1 and flat[0][0] is _c.BRANCH:
            seen: set[str] = set()
            for alt in flat[0][1][1]:
                chars, _ = self.first(list(alt))
                if seen & chars:
                    self.flag("an unbounded repeat of alternatives that start with the same character")
                seen |= chars

    def _check_followers(self, chars: frozenset[str], rest: list[tuple[Any, Any]]) -> None:
        """After an unbounded repeat over ``chars``: a later unbounded repeat over shared characters
        before a separator the first one cannot consume is ambiguous (quadratic backtracking)."""
        for op, av in _flatten(rest):
            if op is _c.BRANCH:
                for alt in av[1]:
                    self._check_followers(chars, list(alt) + rest[rest.index((op, av)) + 1 :])
                return
            first, nullable = self.first_item((op, av))
            unbounded = self.has_unbounded([(op, av)])
            if unbounded and first & chars:
                self.flag("two unbounded repeats can match the same characters with no separator between")
                return
            if not nullable:
                if not (first & chars):
                    return  # a separator: the first repeat stops there, deterministically
                if unbounded:
                    self.flag("an unbounded repeat follows one that can consume its separator")
                    return


def _flatten(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _c.SUBPATTERN:
            out.extend(_flatten(list(av[-1])))
        elif hasattr(_c, "ATOMIC_GROUP") and op is _c.ATOMIC_GROUP:
            out.extend(_flatten(list(av)))
        else:
            out.append((op, av))
    return out


def _anchored_at_start(items: list[tuple[Any, Any]], flags: int) -> bool:
    flat = _flatten(items)
    if not flat or flat[0][0] is not _c.AT:
        return False
    where = flat[0][1]
    return where is _c.AT_BEGINNING_STRING or (where is _c.AT_BEGINNING and not flags & re.MULTILINE)


def check_pattern(pattern: str | re.Pattern[str], *, search: bool, flags: int = 0) -> list[Finding]:
    """Findings for ``pattern`` (empty: linear). ``search``: used with search/sub/findall/finditer."""
    if isinstance(pattern, re.Pattern):
        flags |= pattern.flags
        pattern = pattern.pattern
    parsed = _p.parse(pattern, flags)
    items = list(parsed)
    checker = _Checker(pattern, flags, search)
    in_search = search and not _anchored_at_start(items, flags)
    checker.check(items, prefix=[] if in_search else None)
    unique = {(f.pattern, f.reason): f for f in checker.findings}
    return list(unique.values())
