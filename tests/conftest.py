"""Fixtures shared by the browser tests of ``tests/browser`` and ``tests/system``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chromium import Browser, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (each test opens its own tabs)."""
    with chromium() as opened:
        yield opened
