"""The worked examples in the safety docstrings run."""

from __future__ import annotations

import doctest

import pytest

from trialkit.safety import _stats, adae, simulate


@pytest.mark.parametrize("module", [_stats, adae, simulate], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
