"""Derandomized Hypothesis runs that really are the same every run.

``settings(derandomize=True)`` fixes the seed, but Hypothesis (6.1xx) also draws from a pool of constants it
collects from every local module already imported (``providers._get_local_constants``): which tests ran before in
the process changes the pool, and so the programs a state machine runs. A stateful test that asserts its own
coverage ("the machine really gave shares") then passes alone and fails after other tests (seen: the market
machine gave no shares after ``test_display.py`` ran first). ``without_local_constants`` keeps the pool empty for
the run (and the cache of constants per kind of draw, filled by whichever test drew first, fresh), so the programs
depend on the test alone. If a Hypothesis release renames either, the patch fails loudly (``AttributeError``) rather
than silently doing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis.internal.cache import LRUCache
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants


@contextmanager
def without_local_constants() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(providers, "_get_local_constants", Constants)
        patch.setattr(providers, "CONSTANTS_CACHE", LRUCache(1024))
        yield
