"""What flows between operators: Arrow batches with two columns of their own.

Every batch inside a flow carries its records' event time as :data:`TIME` (a TIMESTAMP in
epoch microseconds, as streams store it) and an order as :data:`SEQ` (the input's offsets;
FIRST and LAST pick by it), beside the columns the operators made.  A flow's output drops
:data:`SEQ`; :data:`TIME` becomes each output record's ``timestamp``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rillet.datatypes import DataType

TIME = "__time"
SEQ = "__seq"
#: false on the rows a WHERE before TUMBLE/HOP/SESSION windows left out: the windows see
#: them (their time moves the watermark, as the records' order says), but count them nowhere
#: (a name no column can have)
KEPT = "\x00kept"
TIME_TYPE = DataType("TIMESTAMP", nullable=False)
ARROW_TIME = TIME_TYPE.arrow


def times_of(batch: pa.RecordBatch) -> np.ndarray:
    """The batch's event times as epoch microseconds (int64)."""
    column = batch.column(TIME)
    array: np.ndarray = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return array


def seqs_of(batch: pa.RecordBatch) -> np.ndarray:
    array: np.ndarray = batch.column(SEQ).to_numpy(zero_copy_only=False)
    return array


def time_array(us: np.ndarray) -> pa.Array:
    """Epoch microseconds as the TIME column."""
    return pa.array(np.asarray(us, dtype=np.int64), pa.int64()).cast(ARROW_TIME)


def with_columns(columns: dict[str, pa.Array], times: pa.Array, seqs: pa.Array) -> pa.RecordBatch:
    """A frame of ``columns`` (in order) plus TIME and SEQ."""
    names = [*columns, TIME, SEQ]
    return pa.record_batch([*columns.values(), times, seqs], names=names)
