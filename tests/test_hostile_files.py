"""Issue 10: hostile article files. A gzip bomb costs no more memory than the per-article limit allows,
and what is not a file to read (a FIFO, a device, a symlink loop) is named on a `skipped:` line.

Real files in a temporary folder, read by the real indexer.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

from conftest import SEEDS, make_index

from index.reading import bounded
from index.reading import files as articles_module
from index.reading import records as records_module
from index.reading.files import read_file

SEED_TEXT = (SEEDS / "003_856c997e904d8576.txt").read_text()
OTHER_SEED_TEXT = (SEEDS / "000_1c6ccadab8500b43.txt").read_text()
MIB = 1 << 20


def gzip_bomb(path: Path, mebibytes: int, before: list[dict], after: list[dict]) -> None:
    """A .jsonl.gz whose middle record is one line of `mebibytes` MiB of spaces, a few hundred KB on disk.

    Gzip members may be concatenated, so one compressed MiB of spaces is repeated instead of compressing it all.
    """
    def member(data: bytes) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        return packer.compress(data) + packer.flush()

    spaces = member(b" " * MIB)
    with path.open("wb") as out:
        out.write(member("".join(json.dumps(r) + "\n" for r in before).encode() + b'{"id": "bomb", "text": "'))
        for _ in range(mebibytes):
            out.write(spaces)
        out.write(member(b'"}\n' + "".join(json.dumps(r) + "\n" for r in after).encode()))


def records(prefix: str, count: int) -> list[dict]:
    paragraphs = [p for p in SEED_TEXT.splitlines() if p.strip()]
    return [{"id": f"{prefix}-{i}", "title": f"{prefix} {i}", "text": paragraphs[i % len(paragraphs)]} for i in range(count)]


def test_a_gzip_bomb_is_cut_off_while_decompressing_and_the_rest_is_indexed(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(bounded, "MAX_RATIO", 10_000)  # this test is about the line limit; the ratio has its own
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text(SEED_TEXT)
    bomb = folder / "records.jsonl.gz"
    gzip_bomb(bomb, 128, records("before", 2), records("after", 2))
    assert bomb.stat().st_size < 400_000

    tracemalloc.start()
    try:
        found, skips = read_file(bomb, 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MIB, f"reading a 128 MiB line peaked at {peak / MIB:.0f} MiB"
    assert [a.id for a in found] == ["before-0", "before-1", "after-0", "after-1"]
    assert [(Path(s.path).name, s.reason) for s in skips] == [
        ("records.jsonl.gz:3", "record larger than the 6,065,536-byte limit of a JSON line (from NEWSBOT_MAX_ARTICLE_BYTES), not read")
    ]

    messages: list[str] = []
    index = make_index(tmp_path, embedder, articles=folder, max_article_bytes=1_000_000)
    index.log = messages.append
    summary = index.update(progress=False)
    assert summary.added == 5 and summary.skipped == 1
    assert [m for m in messages if m.startswith("skipped:")] == [f"skipped: {bomb.resolve()}:3: {skips[0].reason}"]


def test_a_record_file_stops_at_the_per_file_limit_and_keeps_what_came_before(tmp_path, monkeypatch):
    monkeypatch.setattr(records_module, "MAX_FILE_BYTES", 200_000)
    monkeypatch.setattr(records_module, "MAX_DOCUMENT_BYTES", 100_000)
    lines = tmp_path / "many.jsonl.gz"
    lines.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records("r", 2000)).encode()))
    found, skips = read_file(lines, 1_000_000)
    assert 100 < len(found) < 2000
    assert [(s.path, s.reason) for s in skips] == [
        (str(lines), "stopped after 200,000 bytes, the per-file limit; split the file to read the rest")
    ]
    document = tmp_path / "list.json.gz"
    document.write_bytes(gzip.compress(b"[" + b" " * 50 * MIB + b"]"))
    assert read_file(document, 1_000_000) == ([], [articles_module.Skip(
        str(document), "a JSON document larger than 100,000 bytes; write big collections as JSON Lines (.jsonl)")])
    small = tmp_path / "small.json.gz"  # the happy case: a document within the limit
    small.write_bytes(gzip.compress(json.dumps(records("s", 3), indent=2).encode()))
    assert [a.id for a in read_file(small, 1_000_000)[0]] == ["s-0", "s-1", "s-2"]


def test_fifos_devices_and_symlink_loops_are_named_on_a_skipped_line(tmp_path, embedder):
    folder = tmp_path / "articles"
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "good.txt").write_text(SEED_TEXT)
    os.mkfifo(folder / "pipe.txt")
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "self.md").symlink_to(folder / "self.md")
    (folder / "dangling.txt").symlink_to(folder / "nowhere.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "linked").symlink_to(folder / "real", target_is_directory=True)
    (folder / "around").symlink_to(folder, target_is_directory=True)
    outside = tmp_path / "outside.txt"
    outside.write_text(OTHER_SEED_TEXT)
    (folder / "alias.txt").symlink_to(outside)  # the happy case: a link to a file is read

    messages: list[str] = []
    index = make_index(tmp_path, embedder, articles=folder)
    index.log = messages.append
    started = time.monotonic()
    summary = index.update(progress=False)
    assert time.monotonic() - started < 60
    assert summary.added == 2
    skipped = sorted(m for m in messages if m.startswith("skipped:"))
    assert skipped == sorted(
        [f"skipped: {folder / name}: {reason}" for name, reason in [
            ("pipe.txt", "not a regular file (a FIFO)"),
            ("loop-a.txt", "not a regular file (a symlink loop)"),
            ("loop-b.txt", "not a regular file (a symlink loop)"),
            ("self.md", "not a regular file (a symlink loop)"),
            ("dangling.txt", "not a regular file (a broken symlink)"),
            ("zero.txt", "not a regular file (a device)"),
            ("linked", "a symlink to a folder, not followed"),
            ("around", "a symlink to a folder, not followed"),
        ]]
    ), messages
    assert index.update([folder / "pipe.txt"], progress=False).skips[0].reason == "not a regular file (a FIFO)"


def test_a_file_swapped_for_a_fifo_after_discovery_is_not_waited_for(tmp_path):
    """Reading opens without blocking and checks the open file: a FIFO named like an article returns at once."""
    fifo = tmp_path / "late.txt"
    os.mkfifo(fifo)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(read_file(fifo, 1_000_000)), daemon=True)
    reader.start()
    reader.join(5)
    try:
        assert not reader.is_alive(), "reading a FIFO blocked"
    finally:
        if reader.is_alive():  # unblock the reader of the code before the fix: a writer that closes at once
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert outcome == [([], [articles_module.Skip(str(fifo), "not a regular file (a FIFO)")])]
    (tmp_path / "fine.txt").write_text(SEED_TEXT)
    assert len(read_file(tmp_path / "fine.txt", 1_000_000)[0]) == 1


def test_a_text_file_over_the_article_limit_is_skipped_and_one_at_the_limit_is_read(tmp_path):
    path = tmp_path / "sized.txt"
    path.write_text("word " * 800)
    assert len(read_file(path, 4000)[0]) == 1
    assert read_file(path, 3999) == ([], [articles_module.Skip(str(path), "larger than the 3,999-byte article limit")])


def test_a_million_bad_lines_cost_twenty_skip_lines_and_one_count(tmp_path):
    """Shape (a) of a record-file bomb: each bad line used to become a Skip and a log line (168 MiB for 2 KB of gzip)."""
    path = tmp_path / "ones.jsonl.gz"
    good = json.dumps(records("last", 1)[0]).encode()
    path.write_bytes(gzip.compress(b"1\n" * 300_000 + good + b"\n"))
    assert path.stat().st_size < 5_000
    tracemalloc.start()
    try:
        found, skips = read_file(path, 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB, f"300,000 bad lines peaked at {peak / MIB:.0f} MiB"
    assert [a.id for a in found] == ["last-0"]
    assert len(skips) == records_module.MAX_SKIPS + 1
    assert skips[0] == articles_module.Skip(f"{path}:1", "record is not a JSON object")
    assert skips[-1] == articles_module.Skip(str(path), f"… and {300_000 - records_module.MAX_SKIPS:,} more lines skipped")


def test_valid_records_stop_at_the_per_file_budget_of_kept_bytes(tmp_path, monkeypatch):
    """Shape (b): every record is kept until the file ends, so a small .gz could hold gigabytes of articles."""
    monkeypatch.setattr(records_module, "MAX_KEPT_BYTES", 50_000)
    path = tmp_path / "many.jsonl.gz"
    lines = [json.dumps(r) + "\n" for r in records("r", 2000)]
    path.write_bytes(gzip.compress("".join(lines).encode()))
    found, skips = read_file(path, 1_000_000)
    kept = sum(len(line) for line in lines[: len(found)])
    assert 10 < len(found) < 2000 and kept - len(lines[len(found) - 1]) <= 50_000 < kept
    assert skips == [articles_module.Skip(
        str(path), "stopped after keeping 50,000 bytes of articles, the per-file limit; split the file to read the rest")]


def test_a_gz_that_expands_like_a_bomb_stops_early(tmp_path):
    """Memory is bounded by the limits above; the ratio bounds time: a GB of blank lines is a MB of gzip."""
    bomb = tmp_path / "blank.jsonl.gz"
    bomb.write_bytes(gzip.compress(json.dumps(records("first", 1)[0]).encode() + b"\n" + b"\n" * 32 * MIB))
    started = time.monotonic()
    found, skips = read_file(bomb, 1_000_000)
    assert time.monotonic() - started < 5
    assert [a.id for a in found] == ["first-0"]
    assert len(skips) == 1 and skips[0].path == str(bomb)
    assert skips[0].reason.startswith("stopped: ") and "expanded to" in skips[0].reason, skips
    plain = tmp_path / "blank.jsonl"  # the happy case: an uncompressed file has no ratio
    plain.write_bytes(json.dumps(records("first", 1)[0]).encode() + b"\n" + b"\n" * 3 * MIB)
    found, skips = read_file(plain, 1_000_000)
    assert [a.id for a in found] == ["first-0"] and skips == []


def test_a_deeply_nested_line_or_a_truncated_gz_loses_only_itself(tmp_path):
    nested = tmp_path / "nested.jsonl"
    nested.write_text(
        json.dumps(records("a", 1)[0]) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + json.dumps(records("b", 1)[0]) + "\n"
    )
    found, skips = read_file(nested, 1_000_000)
    assert [a.id for a in found] == ["a-0", "b-0"]
    assert skips == [articles_module.Skip(f"{nested}:2", "line is not valid JSON (nested too deeply)")]

    truncated = tmp_path / "truncated.jsonl.gz"
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in records("t", 200)).encode())
    truncated.write_bytes(whole[: len(whole) * 2 // 3])
    found, skips = read_file(truncated, 1_000_000)
    assert 50 < len(found) < 200 and [a.id for a in found] == [f"t-{i}" for i in range(len(found))]
    assert len(skips) == 1 and skips[0].path == str(truncated) and skips[0].reason.startswith("cannot read the rest: ")


def test_a_big_jsonl_whose_first_line_is_broken_is_still_read_as_json_lines(tmp_path, monkeypatch):
    """Over the document limit, a .jsonl starting with a broken `{` line was taken for one huge document."""
    monkeypatch.setattr(records_module, "MAX_DOCUMENT_BYTES", 2_000)
    path = tmp_path / "big.jsonl"
    path.write_text('{"id": "broken", \n' + "".join(json.dumps(r) + "\n" for r in records("r", 20)))
    found, skips = read_file(path, 1_000_000)
    assert [a.id for a in found] == [f"r-{i}" for i in range(20)]
    assert [(s.path, s.reason.split(" (")[0]) for s in skips] == [(f"{path}:1", "line is not valid JSON")]
