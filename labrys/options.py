"""Options: ``--option key=value`` and ``--runtime-option key=value``, declared as data.

Each target, workload, fault and runtime declares the options it understands as a
table of `Option` values (name, default, how to parse the text, one line of help).
`parse_options` turns the text a user gave into typed values, and `check_known` refuses
a key nobody declared with the list of known ones: one line each, before anything
starts. The tables are data, so the same ones serve the refusal, the documentation and
``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.errors import UsageError

__all__ = ["Option", "boolean", "check_known", "choice", "parse_options", "positive_float",
           "positive_int"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One option a target or workload understands.

    Attributes:
        name: the key after ``--option``.
        default: the value when not given (already typed).
        parse: text to value; raises ValueError for a bad value.
        expected: what a good value looks like, for the error message.
        help: one line for the documentation.
    """

    name: str
    default: Any
    parse: Callable[[str], Any]
    expected: str
    help: str


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser accepting exactly one of ``allowed``."""
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(text)
        return text
    return parse


def boolean(text: str) -> bool:
    """``true`` or ``false``, as written on the command line and in TOML specs."""
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def parse_options(table: Mapping[str, Option], given: Mapping[str, str], *,
                  flag: str = "--option") -> dict[str, Any]:
    """Every option of ``table``, typed: the given text parsed, defaults for the rest.

    Keys of ``given`` that ``table`` does not know are ignored here (another table may
    own them); `check_known` refuses keys that nobody knows.

    Raises:
        UsageError: a given value does not parse.
    """
    out: dict[str, Any] = {}
    for name, option in table.items():
        if name not in given:
            out[name] = option.default
            continue
        try:
            out[name] = option.parse(given[name])
        except ValueError:
            raise UsageError(f"{flag} {name}={given[name]!r} is not valid; "
                             f"expected {option.expected}") from None
    return out


def check_known(given: Mapping[str, str], *tables: tuple[str, Mapping[str, Option]],
                flag: str = "--option") -> None:
    """Refuse any key of ``given`` that none of the named tables declares.

    Raises:
        UsageError: naming the unknown key and listing every known one, by owner.
    """
    known = {name for _, table in tables for name in table}
    for key in given:
        if key not in known:
            listing = "; ".join(f"{owner}: {', '.join(sorted(table)) or 'none'}"
                                for owner, table in tables)
            raise UsageError(f"unknown {flag} {key!r}; known options are ({listing})")
