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
from index import articles as articles_module
from index.articles import read_file

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


def test_a_gzip_bomb_is_cut_off_while_decompressing_and_the_rest_is_indexed(tmp_path, embedder):
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
    monkeypatch.setattr(articles_module, "MAX_FILE_BYTES", 200_000)
    monkeypatch.setattr(articles_module, "MAX_DOCUMENT_BYTES", 100_000)
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
