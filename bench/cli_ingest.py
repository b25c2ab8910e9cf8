"""The command line: ``rillet ingest`` of a CSV file into a new stream in a data folder,
beside DuckDB loading the same file into a table of a database file, each as a process of
its own (start-up included), median of 3 runs.

The file (``ts, host, ms, code``; 1M lines, about 45 MB; ``RILLET_BENCH_CLI_ROWS`` sets
the lines) is written before the clocks start.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402

from bench.figures import Target, figure, peer, section  # noqa: E402

ROWS = int(os.environ.get("RILLET_BENCH_CLI_ROWS", "1000000"))
RUNS = 3


def write_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(11)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    table = pa.table(
        {
            "ts": pa.array(start + np.arange(rows) * np.timedelta64(1, "ms")),
            "host": pa.array(rng.choice([f"host-{i}" for i in range(100)], rows)),
            "ms": pa.array(rng.lognormal(3.0, 1.0, rows).round(3)),
            "code": pa.array(rng.choice([200, 200, 200, 404, 500], rows)),
        }
    )
    pcsv.write_csv(table, path)


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - began


def run() -> None:
    section(f"the command line: rillet ingest of a {ROWS:,}-line CSV, beside DuckDB")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "requests.csv"
        write_file(source, ROWS)
        ours, theirs = [], []
        for i in range(RUNS):
            ours.append(
                timed(
                    [
                        sys.executable, "-m", "rillet.cli", "ingest", "--data",
                        str(root / f"d{i}"), "--stream", "requests", "--create",
                        "--time-column", "ts", str(source),
                    ]
                )
            )  # fmt: skip
            load = (
                "import duckdb, sys; duckdb.connect(sys.argv[1]).execute("
                '"CREATE TABLE requests AS SELECT * FROM read_csv(?)", [sys.argv[2]])'
            )
            theirs.append(
                timed([sys.executable, "-c", load, str(root / f"t{i}.duckdb"), str(source)])
            )
        rate = ROWS / statistics.median(ours)
        duck = ROWS / statistics.median(theirs)
        figure(
            "rillet ingest (CSV file to a new stream)",
            rate,
            "rows/s",
            Target(1_000_000, True, "rows/s"),
        )
        peer("DuckDB read_csv into a table (a process too)", duck, "rows/s", rate / duck)
        start = statistics.median(
            [timed([sys.executable, "-m", "rillet.cli", "--version"]) for _ in range(RUNS)]
        )
        figure("start-up of the rillet command", start * 1000, "ms", Target(300, False, "ms"))
        past = ROWS / (statistics.median(ours) - start)
        figure("rillet ingest past its start-up", past, "rows/s", Target(1e6, True, "rows/s"))


if __name__ == "__main__":
    run()
