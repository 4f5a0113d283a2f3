"""A reader and writer for the part of EDN that Jepsen histories use.

Why not the ``edn_format`` package: it is built on a general lexer generator and
took 8 s to read Elle's 2.8 MB ``huge-scc.edn`` on a 2-core machine; this reader,
one regular expression and an explicit stack, takes a fraction of that. Histories
are the one thing labrys reads in bulk, so the difference is what users wait for.

Mapping to Python, chosen so that a history read from EDN looks exactly like one
read from JSON:

- keywords and symbols become strings without the colon (``:read`` → ``"read"``),
  except ``nil``/``true``/``false``;
- vectors and lists become lists; sets (``#{…}``) become lists too, sorted when
  their elements allow it (set workloads only compare membership);
- maps become dicts; a map key that is itself a collection becomes a tuple (a map
  key a frozenset of its entries);
- tagged literals (``#jepsen.history.Op{…}``, ``#inst "…"``, ``#uuid "…"``) become
  the value they tag; ``#_`` discards the next form; ``;`` starts a comment;
- ratios (``1/3``) become floats, ``123N`` and ``1.5M`` become int and float.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from labrys.errors import HistoryError, brief
from labrys.history._limits import (
    MAX_DEPTH,
    SURROGATE,
    too_deep_error,
    too_long_number_error,
    whole_pairs,
)

_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+|;[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}"]*)
  | (?P<char>\\(?:newline|space|tab|return|u[0-9a-fA-F]{4}|.))
  | (?P<atom>[^\s,\[\](){}"\\;]+)
    """,
    re.VERBOSE | re.DOTALL,
)

_INT = re.compile(r"[+-]?\d+N?\Z")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?\Z")
_RATIO = re.compile(r"[+-]?\d+/\d+\Z")
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code.startswith("u") and len(code) == 5:
        return chr(int(code[1:], 16))
    return _STRING_ESCAPES.get(code, code)


def _atom(text: str) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text[0] == ":":
        return text[1:]
    if _INT.match(text):
        return int(text.rstrip("N"))
    if _FLOAT.match(text):
        return float(text.rstrip("M"))
    if _RATIO.match(text):
        num, den = text.split("/")
        return int(num) / int(den)
    if text in ("##Inf", "##-Inf", "##NaN"):
        return {"##Inf": math.inf, "##-Inf": -math.inf, "##NaN": math.nan}[text]
    return text  # a symbol


def _hashable(value: Any) -> Any:
    """A map key made hashable: lists become tuples, maps frozen sets of their entries
    (a set, not a sorted tuple: keys of different types do not sort)."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return frozenset((k, _hashable(v)) for k, v in value.items())
    return value


def _close(kind: str, items: list[Any], line: int) -> Any:
    if kind in ("[", "("):
        return items
    if kind == "#{":
        try:
            return sorted(items)
        except TypeError:
            return items
    if len(items) % 2:
        raise HistoryError("a map has an odd number of forms (a key without a value)", line=line)
    return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}


_PAIRS = {"[": "]", "(": ")", "{": "}", "#{": "}"}


def iter_forms(text: str, *, first_line: int = 1) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, form)`` for every top-level form in ``text``.

    Raises:
        HistoryError: the text is not EDN (with the line where reading stopped).
    """
    # Each stack frame: [opening token, items, line it opened on, pending tag/discard]
    stack: list[tuple[str, list[Any], int]] = []
    line = first_line
    pos = 0
    discard = 0
    match = _TOKEN.match
    while pos < len(text):
        m = match(text, pos)
        if m is None:
            raise HistoryError(f"cannot read EDN near {text[pos:pos + 30]!r}", line=line)
        kind = m.lastgroup
        token = m.group()
        pos = m.end()
        if kind == "ws":
            line += token.count("\n")
            continue
        if kind == "open":
            if len(stack) == MAX_DEPTH:
                raise too_deep_error(line)
            stack.append((token, [], line))
            continue
        if kind == "discard":
            discard += 1
            continue
        if kind == "tag":
            continue  # a tagged literal reads as the value it tags
        if kind == "close":
            if not stack or _PAIRS[stack[-1][0]] != token:
                raise HistoryError(f"unexpected {token!r}", line=line)
            opener, items, opened_at = stack.pop()
            value = _close(opener, items, opened_at)
            form_line = opened_at
        elif kind == "string":
            value = _ESCAPE.sub(_unescape, token[1:-1])
            form_line = line
            line += token.count("\n")
        elif kind == "char":
            body = token[1:]
            value = _CHARS.get(body, chr(int(body[1:], 16)) if len(body) == 5 and body[0] == "u"
                               else body)
            form_line = line
        else:
            try:
                value = _atom(token)
            except ValueError:  # an integer of more digits than Python converts
                raise too_long_number_error(line, token) from None
            except (ZeroDivisionError, OverflowError):  # a ratio a float cannot hold
                raise HistoryError(f"the ratio {brief(token)} divides by zero or is too large "
                                   "for a number", line=line) from None
            form_line = line
        if type(value) is str and SURROGATE.search(value):
            value = whole_pairs(value, form_line)
        if discard:
            discard -= 1
            continue
        if stack:
            stack[-1][1].append(value)
        else:
            yield form_line, value
    if stack:
        raise HistoryError(
            f"the file ends inside a {stack[-1][0]!r} opened here; is it truncated?",
            line=stack[-1][2],
        )


def loads(text: str) -> Any:
    """The single form in ``text``."""
    forms = [form for _, form in iter_forms(text)]
    if len(forms) != 1:
        raise HistoryError(f"expected one EDN form, found {len(forms)}")
    return forms[0]


_SAFE_KEYWORD = re.compile(r"[A-Za-z*!_?<>=+-][A-Za-z0-9*!_?<>=+./-]*\Z")


def dumps(value: Any, *, keywordize: bool = True) -> str:
    """Write ``value`` as EDN. Strings that look like identifiers become keywords when
    ``keywordize`` is set, which is how Jepsen writes ``:type``, ``:f`` and friends."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if keywordize and _SAFE_KEYWORD.match(value):
            return ":" + value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, dict):
        body = ", ".join(f"{dumps(k)} {dumps(v, keywordize=keywordize)}"
                         for k, v in value.items())
        return "{" + body + "}"
    if isinstance(value, list | tuple):
        return "[" + " ".join(dumps(v, keywordize=keywordize) for v in value) + "]"
    if isinstance(value, set | frozenset):
        return "#{" + " ".join(dumps(v, keywordize=keywordize) for v in value) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as EDN")
