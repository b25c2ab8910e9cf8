"""``rillet demo`` and the group's help, run as the installed command would be."""

from pathlib import Path

import rillet
from tests.commands.test_commands import rillet_command


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = rillet_command("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "demo" in done.stdout


def test_demo_feeds_a_folder_that_then_opens_with_the_records(tmp_path: Path) -> None:
    done = rillet_command("demo", "--path", str(tmp_path / "d"), "--seconds", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "records stored" in done.stdout
    with rillet.connect(tmp_path / "d") as db:
        stream = db.stream("perf_log")
        assert len(stream) > 0
        assert [c.name for c in stream.schema.columns][:2] == ["timestamp", "op_latency_ms"]


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = rillet_command("nonesuch", cwd=tmp_path)
    assert done.returncode == 2
    assert "No such command 'nonesuch'" in done.stderr
