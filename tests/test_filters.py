"""Filters in questions: source:, site:, after:, before:, on:, during:, exclusions, the grey reading
line, no-match and malformed filters — on a real index of articles with sources, urls and dates."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import NATO_QUESTION, make_index, write_sourced_corpus

from index import EmptyQuestion, FilterError
from index.engines.folder.generations import vector_index
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.segments import Parts, PassageVectors
from index.questions.filters import parse


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_sourced_corpus(tmp_path_factory.mktemp("filtered") / "articles")


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory, embedder):
    index = make_index(tmp_path_factory.mktemp("filtered-index"), embedder, articles=corpus)
    index.update(progress=False)
    return index


def _sources(result) -> set[str]:
    return {a.article.source for a in result.answers}


@pytest.mark.parametrize(
    "filters, allowed",
    [
        ("source:reuters", {"Reuters"}),
        ('source:"AP News"', {"AP News"}),
        ("source:“AP News”", {"AP News"}),  # Slack's clients curl quotes
        ("SOURCE:Reuters source:ap-news-not-here", {"Reuters"}),
        ("site:apnews.com", {"AP News"}),
        ("site:reuters.com", {"Reuters"}),  # www. and subdomains belong to their site
        ("-source:reuters", {"AP News", "Town Crier"}),
        ("-site:reuters.com -site:example.org", {"AP News"}),
        ("after:2025-01-31", {"AP News"}),
        ("before:2025-01-01", {"Town Crier"}),
        ("on:2025-01-10", {"Reuters"}),
        ("during:2025-02", {"AP News"}),
        ("during:2025 -source:reuters", {"AP News"}),
    ],
)
def test_each_filter_keeps_only_its_articles(index, filters, allowed):
    result = index.search(f"{NATO_QUESTION} {filters}", k=5)
    if allowed == {"Town Crier"}:  # only the zebra article: the NATO question is honestly not answered there
        assert result.abstained and result.reading.startswith("Searched 1 of 3 articles")
        assert _sources(index.search(f"zebra crossing festival parade {filters}", k=5)) == allowed
        return
    assert result.answers and _sources(result) <= allowed, (filters, _sources(result))
    assert result.reading.startswith("Searched ") and "of 3 articles" in result.reading
    assert result.question == f"{NATO_QUESTION} {filters}"


def test_the_reading_line_says_how_the_question_was_read(index):
    result = index.search(f"{NATO_QUESTION} source:reuters after:2025-01-01")
    assert result.reading == "Searched 1 of 3 articles, from Reuters published after 1 Jan 2025"
    assert index.search(NATO_QUESTION).reading == ""  # no filters, no line


def test_a_filter_that_matches_nothing_says_so(index):
    result = index.search(f"{NATO_QUESTION} source:bbc after:2025-01-01")
    assert result.abstained and not result.answers
    assert result.reading == "No articles from Bbc published after 1 Jan 2025 — 3 indexed in all"


@pytest.mark.parametrize(
    "question, named",
    [
        ("nato after:2025-13-01", "after:2025-13-01"),
        ("nato source:", "source:"),
        ('nato source:""', 'source:""'),
        ("nato during:20x5", "during:20x5"),
        ("nato on:yesterday", "on:yesterday"),
        ("nato site:not_a_host!", "site:not_a_host!"),
        ("nato -after:2025-01-01", "-after:2025-01-01"),
        ("nato after:2025-02-01 before:2025-01-01", "after:2025-02-01 before:2025-01-01"),
        ("nato after:9999-12-31", "after:9999-12-31"),
        ("nato before:0001-01-01", "before:0001-01-01"),
        ("nato on:２０２５-01-10", "on:２０２５-01-10"),  # full-width digits are not a date
    ],
)
def test_a_malformed_filter_is_one_clear_error_naming_it(index, question, named):
    with pytest.raises(FilterError) as raised:
        index.search(question)
    assert named in str(raised.value) and "\n" not in str(raised.value)


def test_a_question_of_filters_only_is_empty(index):
    with pytest.raises(EmptyQuestion):
        index.search("source:reuters after:2025-01-01")


def test_parsing_takes_the_filters_out_of_the_question():
    text, filters = parse('Why did NATO act? source:"AP News" -site:reuters.com during:2025-02')
    assert text == "Why did NATO act?"
    assert filters.sources == ("ap news",) and filters.not_sites == ("reuters.com",)
    assert (filters.start, filters.end) == (date(2025, 2, 1), date(2025, 2, 28))
    assert parse("a note: nothing here")[1] == parse("e-mail me")[1] and not parse("plain")[1]


@pytest.mark.parametrize("exact_scan", [5000, 10])  # scanned exactly, then through the HNSW graph with a selector
def test_the_dense_side_is_restricted_inside_the_search(monkeypatch, exact_scan):
    import index.engines.folder.generations.segments as segments

    monkeypatch.setattr(segments, "EXACT_SCAN", exact_scan)
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3000, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    graph = PassageVectors(vector_index.build(16, matrix, np.arange(1, 3001)), Parts([Delta.empty(16)], np.zeros(0, np.int64)))
    query = matrix[0]
    allowed = set(range(2001, 2031))  # 1%: none of them in the global top 100
    assert not {pid for pid, _ in graph.nearest(query, 100, None)} & allowed
    found = graph.nearest(query, 10, allowed)
    exact = sorted(allowed, key=lambda pid: -float(matrix[pid - 1] @ query))[:10]
    assert [pid for pid, _ in found][:5] == exact[:5]


def test_the_command_line_shows_the_reading_and_refuses_a_bad_filter(index, tmp_path):
    env = {"NEWSBOT_INDEX_DIR": str(index.directory), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    newsbot = [str(Path(__import__("sys").executable).with_name("newsbot"))]
    done = subprocess.run([*newsbot, "ask", f"{NATO_QUESTION} site:apnews.com"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Searched 1 of 3 articles, on apnews.com" in done.stdout, done.stderr
    bad = subprocess.run([*newsbot, "ask", f"{NATO_QUESTION} after:2025-13-01"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "after:2025-13-01" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    as_json = subprocess.run([*newsbot, "ask", "--json", f"{NATO_QUESTION} source:bbc"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    result = json.loads(as_json.stdout)
    assert result["abstained"] and result["reading"].startswith("No articles from Bbc")


def test_stats_list_the_sources_with_counts_and_date_ranges(index, tmp_path):
    assert index.stats().source_list == [
        ("AP News", 1, "2025-02-03", "2025-02-03"),
        ("Reuters", 1, "2025-01-10", "2025-01-10"),
        ("Town Crier", 1, "2024-12-20", "2024-12-20"),
    ]
    env = {"NEWSBOT_INDEX_DIR": str(index.directory), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    newsbot = [str(Path(__import__("sys").executable).with_name("newsbot"))]
    done = subprocess.run([*newsbot, "stats"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "  Reuters: 1 article, 2025-01-10 to 2025-01-10" in done.stdout, done.stderr
