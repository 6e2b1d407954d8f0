"""A derandomized run inside ``without_local_constants`` draws the same values whatever modules were imported before
it (Hypothesis otherwise mixes in constants from every local module it has seen)."""

from __future__ import annotations

import importlib
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fixed_programs import without_local_constants


def _draws() -> list[int]:
    seen: list[int] = []

    @settings(derandomize=True, max_examples=200, database=None)
    @given(st.integers(0, 10**9))
    def collect(n):
        seen.append(n)

    with without_local_constants():
        collect()
    return seen


def test_draws_do_not_depend_on_the_modules_imported_before(tmp_path, monkeypatch):
    before = _draws()
    # A local module full of integers in the drawn range, as a test module or the app's own code would be.
    constants = ", ".join(str(123_456_789 + 7 * i) for i in range(300))
    (tmp_path / "fixed_programs_constants.py").write_text(f"VALUES = [{constants}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        importlib.import_module("fixed_programs_constants")
        after = _draws()
    finally:
        sys.modules.pop("fixed_programs_constants", None)
    assert after == before
