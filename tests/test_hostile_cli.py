"""Issue 10: rough errors from the command line become one clear line: a full disk while indexing,
questions that are not UTF-8, an index folder that cannot be used. The real `newsbot` runs as a
process; the full disk is real too: a file size limit (RLIMIT_FSIZE) makes its writes fail.
"""

from __future__ import annotations

import errno
import json
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np
import pytest
from conftest import NATO_QUESTION, ROOT, SEEDS, cli_env, newsbot

SEED_TEXT = (SEEDS / "000_1c6ccadab8500b43.txt").read_text()


def run(*args: str | bytes, env: dict[str, str], input: bytes | None = None, max_file_bytes: int | None = None):
    """`newsbot` with byte arguments and input, optionally unable to write any file past `max_file_bytes`."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, input=input, capture_output=True, timeout=300,
        preexec_fn=limit_files if max_file_bytes else None,
    )


def test_a_full_disk_gives_one_clear_line_and_keeps_the_previous_index(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    env = cli_env(tmp_path, NEWSBOT_ARTICLES_DIR=str(articles))
    assert newsbot("index", "--quiet", env=env).returncode == 0
    for number in range(20):
        (articles / f"report-{number}.txt").write_text(f"Report {number}\n\n" + SEED_TEXT.replace("NATO", f"NATO-{number}"))

    full = run("index", "--quiet", env=env, max_file_bytes=100_000)
    assert full.returncode == 1
    assert full.stderr.decode().splitlines() == [
        f"newsbot index: cannot write the index in {tmp_path / 'index'}: disk I/O error (is the disk full?); the index is unchanged"
    ]
    assert json.loads(newsbot("stats", "--json", env=env).stdout)["articles"] == 2, "the previous index is intact"
    answer = json.loads(newsbot("ask", NATO_QUESTION, "--json", env=env).stdout)
    assert any("intelligence officers" in a["quote"] for a in answer["answers"])
    again = newsbot("index", "--quiet", env=env)  # with room again, the update goes through
    assert again.returncode == 0 and again.stdout.startswith("20 added"), again.stdout + again.stderr


def test_questions_that_are_not_utf8_get_one_error_line_each_and_the_rest_are_answered(tmp_path):
    env = cli_env(tmp_path)
    assert newsbot("index", "--quiet", env=env).returncode == 0
    lines = [NATO_QUESTION.encode(), b"what did the caf\xe9 owners say?", b"", "Which nerve agent poisoned Skripal?".encode(), b"\xff\xfe"]
    done = run("ask", "-", "--json", env=env, input=b"\n".join(lines) + b"\n")
    assert done.returncode == 1
    assert [json.loads(line)["question"] for line in done.stdout.decode().splitlines()] == [
        NATO_QUESTION, "Which nerve agent poisoned Skripal?"
    ]
    assert done.stderr.decode().splitlines() == [
        "newsbot ask: the question on line 2 is not valid UTF-8, skipped",
        "newsbot ask: the question on line 5 is not valid UTF-8, skipped",
    ]
    single = run("ask", b"what did the caf\xe9 owners say?", env=env)
    assert single.returncode == 2 and single.stderr.decode() == "newsbot ask: the question is not valid UTF-8\n"
    accented = run("ask", "what did the café owners say?".encode(), "--json", env=env)  # the happy case: real UTF-8
    assert accented.returncode == 0 and json.loads(accented.stdout)["question"] == "what did the café owners say?"


def test_an_index_folder_that_cannot_be_used_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = newsbot("index", "--quiet", env=cli_env(tmp_path, NEWSBOT_INDEX_DIR=str(blocker)))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"newsbot index: cannot read or write {blocker}: File exists"]


@contextmanager
def file_size_limit(max_file_bytes: int) -> Iterator[None]:
    """In this process, no file can be written past `max_file_bytes` (EFBIG, as on a full disk) until exit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_while_writing_a_faiss_file_is_an_oserror_and_one_line(tmp_path):
    """faiss.write_index raised RuntimeError (a traceback from the CLI) or, failing at close, left a short file; numpy's
    short write names no errno."""
    from bot.cli.main import _storage_problem
    from index.engines.folder.generations import vector_index
    from index.engines.folder.generations.sentence_index import SentenceIndex
    from index.engines.folder.store import Store

    vectors = np.random.default_rng(0).random((2000, 384), dtype=np.float32)
    flat = faiss.IndexFlatIP(384)
    flat.add(vectors)
    with pytest.raises(OSError) as full:
        vector_index.write_file(flat, "/dev/full")
    assert full.value.errno == errno.ENOSPC
    small = faiss.IndexFlatIP(384)
    small.add(vectors[:2])
    with pytest.raises(OSError) as full:  # a write that fails only at close is not ignored either
        vector_index.write_file(small, "/dev/full")
    assert full.value.errno == errno.ENOSPC

    store = Store(tmp_path / "index")
    store.directory.mkdir()
    sentences = SentenceIndex(np.array([1]), np.array([0, 2000]), vectors.astype(np.float16), None)  # 1.5 MB of rows
    with file_size_limit(500_000):
        with pytest.raises(OSError) as too_big:
            store.write_vectors(flat, 7)
        with pytest.raises(OSError) as too_big_too:
            sentences.save(tmp_path / "index" / "sentences-7", 7)
    assert too_big.value.errno == errno.EFBIG
    assert too_big_too.value.errno == errno.ENOSPC  # numpy's short write, which names no errno, said as a full disk
    assert sorted(p.name for p in store.directory.iterdir()) == [], "no partial file is left"
    for problem in (too_big.value, too_big_too.value):
        line = _storage_problem(problem)
        assert "\n" not in line and "(is the disk full?)" in line and line.endswith("the index is unchanged")
    store.write_vectors(flat, 7)  # the happy case: with room, the same writes go through
    sentences.save(tmp_path / "index" / "sentences-7", 7)
    assert store.read_vectors(7).ntotal == 2000
    assert len(SentenceIndex.load(tmp_path / "index" / "sentences-7", 7)) == 2000
