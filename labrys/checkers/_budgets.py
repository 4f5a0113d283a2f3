"""How much a search may spend when the user did not say: a share of the free memory.

A fixed default (it used to be 2 GB) is wrong both ways: on a laptop with 4 GB free it
invites the kernel's out-of-memory killer, and on a 64 GB CI machine it gives up on
histories the machine could decide. So the default is a fraction of the memory that
is *available* when the check begins (Linux's ``MemAvailable``: free memory plus what
the kernel can reclaim), leaving the rest to the history itself, the interpreter and
whatever else runs beside it.

A verdict that ran out says which budget it was: the user's (``--memory-limit``,
``--timeout``) or this default, so the fix ("raise the limit") names the right knob.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_MEMORY_SHARE = 0.5
"""The share of available memory a search may use by default."""

FALLBACK_MEMORY_MB = 2048
"""The default when the available memory cannot be read (not Linux, no /proc)."""

EXPLAIN_MEMORY_BYTES = 128 << 20
"""The memory a search may spend explaining a part the read-mapping refuted (beyond
it, the read-mapping's own proof is the explanation)."""


def available_memory_mb() -> int | None:
    """Memory available for new allocations, in MiB, or None if the system won't say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryLimit:
    """The memory budget of one check and where it came from.

    Attributes:
        mb: the budget in MiB.
        given: True if the user set it (``--memory-limit``), False for the default.
    """

    mb: int
    given: bool

    def describe(self) -> str:
        """The budget in a few words, for an unknown verdict."""
        if self.given:
            return f"its memory limit of {self.mb} MB"
        return (f"its default memory limit of {self.mb} MB ({DEFAULT_MEMORY_SHARE:.0%} of the "
                "memory available when the check began; set --memory-limit to change it)")


def memory_limit(given_mb: int | None) -> MemoryLimit:
    """The user's limit if any, else `DEFAULT_MEMORY_SHARE` of what is available now."""
    if given_mb is not None:
        return MemoryLimit(mb=given_mb, given=True)
    available = available_memory_mb()
    if available is None:
        return MemoryLimit(mb=FALLBACK_MEMORY_MB, given=False)
    return MemoryLimit(mb=max(64, int(available * DEFAULT_MEMORY_SHARE)), given=False)
