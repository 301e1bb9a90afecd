"""An update's planned articles kept on disk until its commit: read back exactly as planned, again and again."""

from __future__ import annotations

from conftest import SEEDS

from index.indexing.indexer import Indexer, _Planned
from index.indexing.spool import PREFIX, SUFFIX, PlanSpool, SpooledRows
from index.reading import Article


def _plans() -> list[_Planned]:
    plans = []
    for number, seed in enumerate(sorted(SEEDS.glob("*.txt"))[:4]):
        text = seed.read_text(encoding="utf-8")
        article = Article(
            id=f"a{number}", title=f"Title «{number}»", text=text, url=f"https://example.com/{number}",
            source="Example", published="2022-03-0{number + 1}", path=str(seed), notes=["a note"] if number else [],
        )
        plans.append(Indexer.plan(article))
    return plans


def test_planned_articles_come_back_as_planned_on_every_pass(tmp_path):
    plans = _plans()
    spool = PlanSpool(_Planned, tmp_path)
    for plan in plans:
        spool.add(plan)
    assert len(spool) == len(plans)
    assert spool.passages == sum(len(p.passages) for p in plans)
    for _ in range(2):  # a writer may pass over them several times
        assert list(spool) == plans
    assert list(spool.passage_hashes()) == [(h, len(p.sentences)) for plan in plans for p, h in zip(plan.passages, plan.hashes)]
    rows = SpooledRows(spool, 100)
    expected = [
        (pid, plan, ordinal, passage, digest)
        for pid, (plan, ordinal, passage, digest) in enumerate(
            ((plan, o, p, h) for plan in plans for o, (p, h) in enumerate(zip(plan.passages, plan.hashes))), start=100
        )
    ]
    assert len(rows) == len(expected) and list(rows) == expected and list(rows) == expected
    spool.close()
    assert not spool.path.exists()


def test_a_spool_left_by_a_crashed_update_is_deleted_by_the_next(tmp_path):
    left = tmp_path / f"{PREFIX}crashed{SUFFIX}"
    left.write_bytes(b"x" * 1000)
    spool = PlanSpool(_Planned, tmp_path)
    assert not left.exists() and spool.path.parent == tmp_path
    spool.close()
    elsewhere = PlanSpool(_Planned, None)  # (PostgreSQL: SQLite's private temp database, no name to leave behind)
    plan = _plans()[0]
    elsewhere.add(plan)
    assert elsewhere.path is None and list(elsewhere) == [plan]
    elsewhere.close()
    assert list(tmp_path.iterdir()) == []
