"""``--shard K/N``: a stable, disjoint slice of the selected hosts for one of N workers (pure).

A host belongs to shard ``sha256(casefold(name)) mod N + 1`` (K is 1-based: ``1/4`` .. ``4/4``). The hash
depends only on the host name, so every worker, run or machine computes the same slices, and the N
slices of one selection are disjoint and together the whole selection. Adding a host moves no other
host; changing N reshuffles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from poshbridge.errors import ConfigurationError

MAX_SHARDS: Final = 100_000
_FORM = re.compile(r"^\s*([0-9]{1,9})\s*/\s*([0-9]{1,9})\s*$")

T = TypeVar("T")


class ShardError(ConfigurationError, ValueError):
    """A ``K/N`` that is not one (the message says why; it quotes only digits)."""


@dataclass(frozen=True)
class Shard:
    index: int  # K, 1-based
    count: int  # N

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ShardError(f"N must be 1..{MAX_SHARDS} (got {self.count})")
        if not 1 <= self.index <= self.count:
            last = f"{self.count}/{self.count}"
            raise ShardError(f"K must be 1..N (K is 1-based: 1/{self.count} .. {last}); got {self.index}")

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def to_json(self) -> dict[str, Any]:
        """``{"index", "count", "label"}``."""
        return {"index": self.index, "count": self.count, "label": self.label}

    def __str__(self) -> str:
        return self.label


def parse_shard(text: str) -> Shard:
    """``"K/N"`` → :class:`Shard`; :class:`ShardError` saying what is wrong."""
    match = _FORM.match(text) if isinstance(text, str) else None
    if match is None:
        raise ShardError("must be K/N with whole numbers, such as 1/4 (K is 1-based)")
    return Shard(int(match[1]), int(match[2]))


def shard_of(name: str, count: int) -> int:
    """The 1-based shard of host ``name`` among ``count``."""
    digest = hashlib.sha256(name.casefold().encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(name: str, shard: Shard | None) -> bool:
    return shard is None or shard_of(name, shard.count) == shard.index


def shard_names(names: Sequence[str], shard: Shard | None) -> list[str]:
    """The names of ``shard`` (all of them for None), in the given order."""
    return [name for name in names if in_shard(name, shard)]


def shard_hosts(hosts: Sequence[T], shard: Shard | None) -> list[T]:
    """The hosts (anything with a ``name``) of ``shard``, in the given order; all for None."""
    return [host for host in hosts if in_shard(str(getattr(host, "name")), shard)]  # noqa: B009
