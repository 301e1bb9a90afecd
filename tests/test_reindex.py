"""`/news reindex` progress: the real indexer's embedding loop reports how far it has come, throttled."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import SEEDS, make_index

from bot.slack import blocks
from bot.slack.reindex import MAX_REPORTS, ProgressReports, Reindexer


def _copies(folder: Path, count: int) -> Path:
    """`count` titled copies of each seed: distinct passages (the title is embedded with each), several batches."""
    folder.mkdir()
    for seed in sorted(SEEDS.glob("*.txt")):
        for n in range(count):
            folder.joinpath(f"{seed.stem}-{n}.md").write_text(
                f"---\ntitle: Copy {n} of {seed.stem}\n---\n{seed.read_text(encoding='utf-8')}", encoding="utf-8"
            )
    return folder


def _run(reindexer: Reindexer, on_progress) -> tuple:
    finished = threading.Event()
    outcome: list = []

    def done(summary, error):
        outcome.extend([summary, error])
        finished.set()

    assert reindexer.start(done, on_progress)
    assert finished.wait(300), "the reindex never finished"
    return tuple(outcome)


def test_reindex_reports_progress_with_time_left(tmp_path, embedder):
    index = make_index(tmp_path, embedder, _copies(tmp_path / "articles", 12))
    reports: list[tuple[int, int, float | None]] = []
    summary, error = _run(Reindexer(index, first_report=0, report_every=0), lambda *r: reports.append(r))
    assert error is None and summary.embedded > 64, summary.line()
    assert 1 <= len(reports) <= MAX_REPORTS, reports
    totals = {total for _, total, _ in reports}
    assert totals == {summary.embedded}
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and 0 < done[0] < summary.embedded
    assert all(left is not None and left > 0 for _, _, left in reports)
    text = blocks.reindex_progress_message(*reports[0])["text"]
    assert f"of {summary.embedded:,} passages embedded, about " in text and "left" in text


def test_a_failing_progress_report_does_not_stop_the_reindex(tmp_path, embedder):
    index = make_index(tmp_path, embedder, _copies(tmp_path / "articles", 2))

    def broken(*_):
        raise OSError("Slack is unreachable")

    summary, error = _run(Reindexer(index, first_report=0, report_every=0), broken)
    assert error is None and summary.embedded > 0 and index.exists()


def test_progress_is_quiet_for_a_short_update_and_capped():
    seen: list = []
    quiet = ProgressReports(lambda *r: seen.append(r), first=3600)
    quiet(10, 100, 5.0)
    assert seen == []
    eager = ProgressReports(lambda *r: seen.append(r), first=0, every=0)
    for done in range(0, 101, 10):
        eager(done, 100, 1.0)
    assert [r[0] for r in seen] == [10, 20, 30][:MAX_REPORTS]  # nothing at 0, nothing at the end: the summary says it


def test_durations_read_as_people_say_them():
    assert [blocks._duration(s) for s in (4, 59.4, 61, 3599, 4800)] == ["4 s", "59 s", "1 min", "1 h", "1 h 20 min"]
