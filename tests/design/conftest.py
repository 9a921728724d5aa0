"""Shared helpers of the design tests."""

import pytest

from trialkit.design import engine


@pytest.fixture
def interrupted_run():
    """``run(study, checkpoint, **kw)``: an engine run with checkpoints that is stopped right after its second chunk
    is saved (as an interrupted long run would be)."""

    class Stop(Exception):
        pass

    def stop_after_two(i):
        if i == 1:
            raise Stop

    def run(study, checkpoint, **kw):
        with pytest.raises(Stop):
            engine.run(study, checkpoint=checkpoint, on_chunk=stop_after_two, **kw)

    return run
