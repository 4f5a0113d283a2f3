"""The optional native core: the Rust crate in ``native/``, importable as ``labrys_native``.

labrys installs and runs without it (pure Python, slower). Whoever can use it (the
history readers, the search engines) asks `native_module` and falls back quietly when
it answers None; the first ask says once, in one log line, that the core is missing and
how to build it.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType


def _import_native() -> ModuleType:
    """Import the compiled core; a function of its own so tests can make it fail."""
    return importlib.import_module("labrys_native")


@functools.cache
def native_module() -> ModuleType | None:
    """The native core, or None if it is not installed (said once per process)."""
    try:
        return _import_native()
    except ImportError as e:
        import logging  # only here: logging costs every check's start-up a few ms

        logging.getLogger(__name__).warning(
            "labrys: the native core is not installed (%s); reading and checking in pure "
            "Python, which is slower. Build it with scripts/build-native.sh.", e)
        return None
