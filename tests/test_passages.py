"""Passages are verbatim, ordered slices that never cut a sentence and stay within the size bounds."""

from __future__ import annotations

import random
import re

from conftest import SEEDS

from index.indexing.passages import MAX_WORDS, split_passages

TRICKY = (
    "Breaking\r\n\r\nThe U.S. and the U.K. met on Jan. 5 at 3.30 p.m. in Washington D.C. with Mr. Smith. "
    "“We agree,” he said. Prices rose 2.5% — 😀 emoji included!\r\n"
    "A line without a final stop\r\n\r\n" + ("word " * 450) + "\n\n" + "Short tail."
)


def _check(text: str) -> None:
    passages = split_passages(text)
    assert passages
    previous_end = 0
    for p in passages:
        chunk = text[p.start : p.end]
        assert chunk == chunk.strip() and chunk
        assert p.start >= previous_end
        assert text[previous_end : p.start].strip() == "", "text skipped between passages"
        assert len(chunk.split()) <= MAX_WORDS
        assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end and text[s:e].strip() == text[s:e]
        previous_end = p.end
    assert text[previous_end:].strip() == ""


def test_seeds_split_into_sentence_aligned_passages_of_the_target_size():
    for seed in SEEDS.iterdir():
        text = seed.read_text()
        _check(text)
        passages = split_passages(text)
        sizes = [len(text[p.start : p.end].split()) for p in passages]
        assert all(60 <= n <= 200 for n in sizes), sizes
        for p in passages:
            assert re.search(r"[.!?\"”]$", text[p.start : p.end]), "a passage ends mid-sentence"


def test_tricky_text_keeps_exact_offsets():
    _check(TRICKY)
    first = split_passages(TRICKY)[0]
    assert TRICKY[first.start : first.sentences[1][1]].endswith("Mr. Smith.")


def test_random_texts_keep_every_invariant():
    rng = random.Random(3)
    words = "the NATO said Mr. U.S. officials 5.5 — “quote” it's ok! why? yes. no; 😀 Zürich".split()
    for _ in range(60):
        paragraphs = [
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 90))) + rng.choice([".", "", "?"])
            for _ in range(rng.randint(1, 12))
        ]
        _check(rng.choice(["\n", "\n\n", "\r\n", "\n \n"]).join(paragraphs))


def test_hard_wrapped_text_is_not_cut_mid_sentence():
    import textwrap

    sentences = [
        f"Sentence number {i} tells of a council proposal that had been delayed for {i} months by the budget row."
        for i in range(30)
    ]
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, 30, 5)]
    text = "\n\n".join(textwrap.fill(p, 70) for p in paragraphs)
    _check(text)
    for p in split_passages(text):
        assert text[p.start : p.end].endswith("budget row.")
        for s, e in p.sentences:
            assert text[s:e].startswith("Sentence number") and text[s:e].endswith("budget row.")


def test_text_with_nul_and_broken_escapes_is_sanitized_at_ingest(tmp_path):
    from index.reading.files import read_file

    corpus = tmp_path / "odd.jsonl"
    corpus.write_text(
        '{"id": "s1", "title": "T \\ud83d", "text": "Broken emoji \\ud83d here. Then a NUL \\u0000 inside the text."}\n'
        '{"id": "s2", "text": "A fine record that comes after the odd one."}\n'
    )
    articles, skips = read_file(corpus, 10_000)
    assert [a.id for a in articles] == ["s1", "s2"] and not skips
    odd = articles[0]
    assert "\x00" not in odd.text and len(odd.text) == len("Broken emoji X here. Then a NUL X inside the text.")
    odd.text.encode("utf-8")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    articles, skips = read_file(broken, 10_000)
    assert not articles and len(skips) == 1 and "cannot read" in skips[0].reason
