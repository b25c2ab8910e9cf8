"""A flow's state and error: what a flow that failed tells (flows/flow.py)."""

from __future__ import annotations

import pytest

import rillet
from rillet.errors import FlowError
from tests.unit.support import wait_until


def test_a_flow_failing_on_a_record_tells_why_and_which_records() -> None:
    """An expression the checks cannot refuse (an overflow that depends on the value) fails
    the flow at run time: it ends as failed, its error names the cause and the input
    records, and reading its output raises that error."""
    with rillet.connect() as db:
        stream = db.create_stream("s", "v BIGINT")
        flow = db.execute("SELECT v * 4611686018427387904 AS big FROM s")
        assert (flow.state, flow.error) == ("running", None)
        stream.append_many([(0,), (0,)])
        stream.caught_up()  # else the flow may take both batches as one (offsets 0..3)
        stream.append_many([(0,), (5,)])  # 5 * 2**62 overflows BIGINT
        assert wait_until(lambda: not flow.running)
        assert flow.state == "failed"
        assert flow.error == "ArrowInvalid: overflow (on the records at offsets 2..3 of stream 's')"
        assert flow not in db.flows()  # a SELECT's flow is gone once it ended
        with pytest.raises(FlowError, match=r"failed: ArrowInvalid: overflow \(on the records"):
            list(flow)
        stream.append_many([(1,)])  # the stream goes on
        assert len(stream) == 5


def test_a_cancelled_flow_has_no_error() -> None:
    with rillet.connect() as db:
        db.create_stream("s", "v BIGINT")
        flow = db.execute("SELECT v FROM s")
        flow.cancel()
        assert (flow.state, flow.error) == ("cancelled", None)
