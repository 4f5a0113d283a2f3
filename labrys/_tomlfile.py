"""Reading hand-written TOML files (suites, claims) with one clear line per mistake.

`tomllib` says whether a file parses; it cannot say that ``expect = "vald"`` is a typo or
that ``seeds`` should be a list. Readers of labrys's own TOML formats walk the parsed
tables through `Table`, which remembers where it is (``suite.toml: test[3].matrix``) so
that every refusal names the file, the place and what would be accepted, as a
`UsageError`.

Example:
    >>> t = Table({"name": "smoke", "seeds": [1, 2]}, "smoke.toml")
    >>> t.text("name"), t.ints("seeds")
    ('smoke', [1, 2])
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from labrys.errors import UsageError

MAX_CHARS = 1 << 20
"""A suite or claims file is a few hundred lines; past 1 MiB it is something else, refused
before it is read whole."""


def read_toml(path: Path, *, what: str) -> dict[str, Any]:
    """The top-level table of the TOML file ``path``.

    Raises:
        UsageError: the file cannot be read, is larger than 1 MiB, is not UTF-8 TOML,
            nests deeper than the parser follows or holds an integer of more than 4300
            digits; ``what`` names the kind of file in the message ("suite", "claims").
    """
    try:
        with path.open(encoding="utf-8") as f:
            text = f.read(MAX_CHARS + 1)
    except OSError as e:
        raise UsageError(f"cannot read the {what} {path}: {e.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file; a {what} file is TOML") from None
    if len(text) > MAX_CHARS:
        raise UsageError(f"{path}: larger than 1 MiB; a {what} file is a page or two of TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a {what} file: its TOML nests too deeply") from None
    except ValueError:  # what else tomllib refuses: an integer of too many digits
        raise UsageError(f"{path}: not a {what} file: a number has more than 4300 digits") \
            from None


class Table:
    """A parsed TOML table and where it sits, with typed getters that refuse bad values.

    Getters take a key and return its value converted, or the default when the key is
    absent; a present key with a wrong type raises a `UsageError` naming ``where.key``.
    """

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise UsageError(f"{where}: expected a table, got {shown(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse any key not in ``allowed``, listing those that are."""
        known = list(allowed)
        for key in self.data:
            if key not in known:
                raise UsageError(f"{self.where}: unknown key {shown(key)}; known keys: "
                                 f"{', '.join(known)}")

    def at(self, key: str) -> str:
        return f"{self.where}.{key}"

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{self.at(key)} = {shown(value)} is not valid; expected text")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise UsageError(f"{self.where}: {key!r} is missing; it is required")
        return value

    def texts(self, key: str) -> list[str]:
        """A list of non-empty strings (an absent key is an empty list)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise UsageError(f"{self.at(key)} = {shown(value)} is not valid; expected a list "
                             "of names, e.g. [\"lost\"]")
        return list(value)

    def ints(self, key: str) -> list[int]:
        """A non-empty list of whole numbers >= 0 (an absent key is an empty list)."""
        value = self.data.get(key, [])
        good = isinstance(value, list) and bool(value) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        if key in self.data and not good:
            raise UsageError(f"{self.at(key)} = {shown(value)} is not valid; expected a "
                             "non-empty list of whole numbers >= 0, e.g. [1, 2, 3]")
        return list(value)

    def table(self, key: str) -> Table:
        """A sub-table (an absent key is an empty table)."""
        return Table(self.data.get(key, {}), self.at(key))

    def tables(self, key: str) -> list[Table]:
        """An array of tables (``[[key]]``); an absent key is an empty list."""
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise UsageError(f"{self.at(key)}: expected an array of tables ([[{key}]])")
        return [Table(item, f"{self.where}.{key}[{i + 1}]") for i, item in enumerate(value)]


def shown(value: Any) -> str:
    """``repr(value)``, cut to 60 characters: error lines quote what they refuse."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
