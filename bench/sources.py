"""Sources: a delimited file read into a stream (``CREATE STREAM ... FROM FILE``), beside
pyarrow's CSV reader reading the same file into a table.

The file (``id BIGINT, host STRING, ms DOUBLE, code INT, ts TIMESTAMP`` as text, about 40
bytes a line) is written before the clocks start; each figure is the median of 3 runs after
a warm-up.  rillet's clock runs from the CREATE STREAM statement until the source has
appended the last line to the (in-memory) stream; the peer's from ``read_csv`` until it
returns the table.  The file is 20 MB by default; ``RILLET_BENCH_SOURCES_MB=200`` makes it
the issue's 200 MB.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402

import rillet  # noqa: E402
from bench.figures import Target, figure, peer, section  # noqa: E402
from rillet.sources import source_of  # noqa: E402

MB = int(os.environ.get("RILLET_BENCH_SOURCES_MB", "20"))
RUNS = 3
COLUMNS = "id BIGINT, host STRING, ms DOUBLE, code INT, ts TIMESTAMP"


def write_file(path: Path, megabytes: int) -> int:
    """A delimited file of about ``megabytes`` MB; its number of lines."""
    rng = np.random.default_rng(7)
    lines = 0
    with open(path, "wb") as out:
        while out.tell() < megabytes << 20:
            n = 200_000
            ids = np.arange(lines, lines + n)
            table = pa.table(
                {
                    "id": ids,
                    "host": pa.array([f"host{i}" for i in range(100)]).take(
                        pa.array(rng.integers(0, 100, n))
                    ),
                    "ms": np.round(rng.random(n) * 1000, 3),
                    "code": rng.choice([200, 404, 500], n).astype(np.int32),
                    "ts": 1_700_000_000_000 + ids,
                }
            )
            pcsv.write_csv(
                table, out, pcsv.WriteOptions(include_header=False, quoting_style="none")
            )
            lines += n
    return lines


def rillet_run(path: Path, lines: int) -> float:
    with rillet.connect() as db:
        start = time.perf_counter()
        db.execute(f"CREATE STREAM s ({COLUMNS}) FROM FILE '{path}'")
        source = source_of(db, "s")
        assert source is not None
        source.wait()
        elapsed = time.perf_counter() - start
        source.finished()  # raises if it failed
        assert db.stream("s").next_offset == lines
    return elapsed


def peer_run(path: Path, lines: int) -> float:
    names = ["id", "host", "ms", "code", "ts"]
    types = {"id": pa.int64(), "host": pa.string(), "ms": pa.float64(), "code": pa.int32(),
             "ts": pa.int64()}  # fmt: skip
    start = time.perf_counter()
    table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(column_names=names),
        convert_options=pcsv.ConvertOptions(column_types=types),
    )
    elapsed = time.perf_counter() - start
    assert table.num_rows == lines
    return elapsed


def run() -> None:
    section(f"sources: a {MB} MB delimited file into a stream, beside pyarrow's CSV reader")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.txt"
        lines = write_file(path, MB)
        rillet_run(path, lines)  # warm-up
        peer_run(path, lines)
        ours = statistics.median(rillet_run(path, lines) for _ in range(RUNS))
        theirs = statistics.median(peer_run(path, lines) for _ in range(RUNS))
    rate, peer_rate = lines / ours, lines / theirs
    figure(
        f"FILE source, delimited, {lines:,} lines",
        rate,
        "lines/s",
        Target(1_000_000, at_least=True, unit="lines/s"),
    )
    peer("pyarrow.csv.read_csv", peer_rate, "lines/s", rate / peer_rate)


if __name__ == "__main__":
    run()
