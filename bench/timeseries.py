"""Time series (the Kairos API) per back end: ``insert`` and ``bulk_insert`` rates and
``series`` latency, on 1,000 names x a day of minute data (1.44M values, one a name a
minute), type ``count`` and ``series``, one interval of a minute.

- ``bulk_insert``: the day in 24 calls of an hour each (60,000 values a call).
- ``insert``: one value a call, for a few seconds' worth of values.
- ``series``: a day of one name (1,440 minute buckets), the median of 200 calls over
  different names.

Beside them, the original (Kairos 0.9 on Python 2.7, measured on this machine and written in
issue 16): Redis insert 8.2-8.8k values/s, bulk 81-96k, a day's series of one name 12-18 ms;
SQLite insert 635-866 values/s.  Back ends whose module is not built, or whose service does
not answer, are skipped saying why.  Run alone: ``python bench/timeseries.py``.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas  # noqa: E402, F401 - pyarrow imports it on its first list conversion: not a figure

from bench.figures import Target, figure, peer, section  # noqa: E402
from rillet.errors import RilletError  # noqa: E402
from rillet.timeseries import Timeseries  # noqa: E402
from rillet.timeseries.backends import module_for  # noqa: E402

NAMES = 1_000
MINUTES = 1_440
DAY0 = 1_714_521_600  # 2024-05-01T00:00:00Z
INTERVALS = {"minute": {"step": 60}}
#: (id, URL ({tmp}: a scratch folder)); a back end adds its row here
BACKENDS = [
    ("rillet (memory)", "rillet://"),
    ("rillet (folder, relaxed)", "rillet://{tmp}/data"),
    ("sqlite", "sqlite:///{tmp}/ts.sqlite"),
    ("postgresql", "postgresql://postgres@127.0.0.1:5432/test"),
    ("redis", "redis://127.0.0.1:6379/3"),
]
#: the original's figures (issue 16): (low, high) by (back end, figure)
ORIGINAL = {
    ("redis", "insert"): (8_200, 8_800),
    ("redis", "bulk_insert"): (81_000, 96_000),
    ("redis", "series"): (12.0, 18.0),
    ("sqlite", "insert"): (635, 866),
}
#: aims (issue 16): bulk values/s and series ms by back end
AIMS = {
    "rillet": (1_000_000, 2.0),
    "redis": (500_000, None),
    "postgresql": (200_000, None),
}


def day_of_minutes(names: int = NAMES) -> list[dict[float, dict[str, list[float]]]]:
    """The day as 24 bulk inserts of an hour: {timestamp: {name: [value]}}."""
    rng = np.random.default_rng(16)
    values = rng.integers(1, 100, size=(MINUTES, names)).astype(np.float64).tolist()
    labels = [f"host{n:04d}.cpu" for n in range(names)]
    hours = []
    for hour in range(24):
        chunk = {}
        for minute in range(hour * 60, hour * 60 + 60):
            row = values[minute]
            chunk[float(DAY0 + 60 * minute)] = {labels[n]: [row[n]] for n in range(names)}
        hours.append(chunk)
    return hours


def bench_backend(label: str, url: str, kind: str, hours: list[Any]) -> None:
    module = module_for(url)
    try:
        importlib.import_module(module)
    except ImportError:
        print(f"{label} {kind}: skipped, back end {module} is not built", flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            t = Timeseries(
                url.replace("{tmp}", tmp), type=kind, intervals=INTERVALS, prefix="bench"
            )
        except RilletError as exc:
            print(f"{label} {kind}: skipped, {exc}", flush=True)
            return
        try:
            t.delete_all()
            run(label, t, kind, hours)
            t.delete_all()
        finally:
            t.close()


def run(label: str, t: Timeseries, kind: str, hours: list[Any]) -> None:
    family = label.split(" ")[0]
    bulk_aim, series_aim = AIMS.get(family, (None, None))
    values = sum(len(by_name) for chunk in hours for by_name in chunk.values())
    start, cpu = time.perf_counter(), time.process_time()
    for chunk in hours:
        t.bulk_insert(chunk)
    rate = values / (time.perf_counter() - start)
    cpu_rate = values / (time.process_time() - cpu)
    show(
        f"{label} {kind} bulk_insert, 1,000 names x a day of minutes",
        rate,
        "values/s",
        Target(bulk_aim, True, "values/s") if bulk_aim else None,
        ORIGINAL.get((family, "bulk_insert")),
    )
    on_cpu(f"{label} {kind} bulk_insert", cpu_rate, "values/s")
    # insert: one value a call, into the next day, for about 3 seconds
    stamps = [DAY0 + 86_400 + 60 * m for m in range(MINUTES)]
    done = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < 3.0:
        for n in range(50):
            t.insert(f"host{n:04d}.cpu", 1.0, timestamp=stamps[done % MINUTES])
            done += 1
    rate = done / (time.perf_counter() - start)
    cpu_rate = done / (time.process_time() - cpu)
    show(
        f"{label} {kind} insert, one value a call",
        rate,
        "values/s",
        None,
        ORIGINAL.get((family, "insert")),
    )
    on_cpu(f"{label} {kind} insert", cpu_rate, "values/s")
    names = [f"host{n:04d}.cpu" for n in range(0, NAMES, NAMES // 200)][:200]
    took = []
    cpu = time.process_time()
    for name in names:
        begin = time.perf_counter()
        got = t.series(name, "minute", start=DAY0, end=DAY0 + 86_399)
        took.append(time.perf_counter() - begin)
        assert len(got) == MINUTES
    show(
        f"{label} {kind} series, a day of one name (1,440 buckets), median",
        statistics.median(took) * 1000,
        "ms",
        Target(series_aim, False, "ms") if series_aim else None,
        ORIGINAL.get((family, "series")),
        lower_is_better=True,
    )
    on_cpu(f"{label} {kind} series", (time.process_time() - cpu) / len(names) * 1000, "ms (mean)")


def on_cpu(name: str, value: float, unit: str) -> None:
    """The same figure by this process's CPU time: what the figure would be on an idle
    machine (the machine is shared; a server's own time is not in it)."""
    text = f"{value:,.0f}" if value >= 10 else f"{value:.2f}"
    print(f"{name} by process CPU time: {text} {unit}", flush=True)


def show(
    name: str,
    value: float,
    unit: str,
    target: Target | None,
    original: tuple[float, float] | None,
    lower_is_better: bool = False,
) -> None:
    if target is not None:
        figure(name, value, unit, target)
    else:
        print(
            f"{name}: {value:,.0f} {unit}" if value >= 10 else f"{name}: {value:.2f} {unit}",
            flush=True,
        )
    if original is not None:
        low, high = original
        middle = (low + high) / 2
        ratio = middle / value if lower_is_better else value / middle
        peer(f"Kairos 0.9, Python 2.7 (issue 16: {low:,g}-{high:,g})", middle, unit, ratio)


def main(kinds: tuple[str, ...] = ("count", "series")) -> None:
    section("time series (Kairos API), 1,000 names x a day of minute data")
    hours = day_of_minutes()
    for kind in kinds:
        for label, url in BACKENDS:
            bench_backend(label, url, kind, hours)


if __name__ == "__main__":
    main()
