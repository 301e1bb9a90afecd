"""A `Snapshot` of the index in PostgreSQL: every read of one question inside one REPEATABLE READ
transaction, so it sees one committed version however many updates commit meanwhile.

Dense search runs on pgvector's HNSW indexes; BM25 is computed by the server from the postings'
term frequencies, the version's document frequencies (`stem_counts`, kept by the writer) and lengths (Lucene's
formula, as bm25s), so no process holds the corpus in memory; sentence cosines are computed there too.
"""

from __future__ import annotations

import numpy as np

from index.engines.common import EF_SEARCH, EXACT_SCAN, K1, B, passage_row
from index.engines.postgres.schema import IMPACT
from index.text.keywords import idf

REACH = 1000  # postings read per query stem by impact: all of a rare word's, a common word's strongest
# The sentences' graph finds candidates by their vectors' signs; this many times the sentences asked for are scored
# again on their rows: 0.964 of the exact 100 nearest found at 65k passages (`benchmarks/postgres_sentences.py`;
# 0.892 at 4x; the halfvec graph it replaced found 0.986).
SIGNS_RESCORED = 10
MAX_EF_SEARCH = 1000  # pgvector's bound
# A statement filtered by a question's allowed passages (`id = ANY(...)`, thousands of ids) is planned for its own
# ids, never prepared: once PostgreSQL switches a prepared statement to its generic plan, the ids are a parameter it
# cannot hash, so each posting read was compared with every allowed id (a month's filter, 5,400 passages: p50 / p95
# 1,187 / 2,512 ms, against 31 / 38 planned each time; benchmarks/postgres_filters.py).
# Vectors come back in binary (pgvector decodes them with numpy) rather than as text parsed number by number.
BINARY = True


class PgPassageVectors:
    """Passage vectors: nearest by the HNSW index (an exact scan for a few thousand allowed passages)."""

    def __init__(self, conn, dimension: int, count: int) -> None:
        self.conn = conn
        self.d = dimension
        self.ntotal = count

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        wanted = [int(i) for i in ids]
        rows = self.conn.execute("SELECT id, embedding FROM passages WHERE id = ANY(%s)", (wanted,), binary=BINARY)
        found = dict(rows.fetchall())
        return np.asarray([found[i].to_numpy() for i in wanted], dtype=np.float32).reshape(len(wanted), self.d)

    def nearest(self, query: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        from pgvector import HalfVector, Vector

        d = self.d
        if allowed is not None and len(allowed) <= EXACT_SCAN:
            # Every allowed passage compared by the server, which sends back the best n, rather than up to 5,000
            # vectors shipped here and decoded one by one.
            rows = self.conn.execute(
                f"""SELECT id, -(embedding::vector({d}) <#> %(q)s::vector({d})) AS score FROM passages
                    WHERE id = ANY(%(allowed)s::int8[]) ORDER BY score DESC, id LIMIT %(n)s""",
                {"q": Vector(query), "allowed": sorted(allowed), "n": n},
                prepare=False,  # planned for its ids: see the note at the top
            ).fetchall()
            return [(pid, float(score)) for pid, score in rows]

        self.conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, n)}")
        # The graph is walked with the question in half precision (its index is on halfvec); each found passage is
        # scored with the question as it is, as the folder's float16 graph scores it.
        params: dict = {"q": Vector(query), "h": HalfVector(np.asarray(query, dtype=np.float16)), "n": n}
        where = ""
        if allowed is not None:  # keep walking the graph until n allowed passages are found
            self.conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            where, params["allowed"] = "WHERE id = ANY(%(allowed)s::int8[])", sorted(allowed)
        rows = self.conn.execute(
            f"""SELECT id, -(embedding::vector({d}) <#> %(q)s::vector({d})) FROM passages {where}
                ORDER BY embedding::halfvec({d}) <#> %(h)s::halfvec({d}) LIMIT %(n)s""",
            params,
            prepare=False if allowed is not None else None,  # planned for its ids: see the note at the top
        ).fetchall()
        return sorted(((pid, float(score)) for pid, score in rows), key=lambda hit: -hit[1])


class PgKeywords:
    """BM25 from the postings, with this version's document count and average length."""

    def __init__(self, conn, documents: int, total_length: int, frequencies: dict[str, int] | None = None) -> None:
        self.conn = conn
        self.documents = documents
        self.average = total_length / documents if documents else 1.0
        # Stems' document frequencies (the writer's `stem_counts`), shared by the questions on this version: a stem
        # asked again costs no round trip; see `PgReader.snapshot`.
        self._frequencies: dict[str, int] = {} if frequencies is None else frequencies

    def __len__(self) -> int:
        return self.documents

    def frequencies(self, stems: list[str]) -> dict[str, int]:
        """How many passages hold each stem (one lookup for those not asked yet; the writer keeps the counts)."""
        missing = [s for s in dict.fromkeys(stems) if s not in self._frequencies]
        if missing:
            counts = dict(
                self.conn.execute("SELECT stem, passages FROM stem_counts WHERE stem = ANY(%s)", (missing,)).fetchall()
            )
            self._frequencies.update({s: int(counts.get(s, 0)) for s in missing})
        return {s: self._frequencies[s] for s in stems}

    def best(
        self, stems: list[str], n: int, allowed: set[int] | None = None, also: list[int] = (),
        earlier_stems: list[str] = (), earlier_weight: float = 0.0,
    ) -> tuple[list[int], dict[int, float]]:
        weights = {s: 1.0 for s in dict.fromkeys(stems)}
        if earlier_weight > 0:
            weights.update({s: earlier_weight for s in dict.fromkeys(earlier_stems) if s not in weights})
        frequencies = self.frequencies(list(weights))
        terms = [s for s in weights if frequencies[s] > 0]
        if not terms:
            return [], {}
        idfs = [weights[s] * idf(frequencies[s], self.documents) for s in terms]
        # Constants typed float8: an untyped 0.75 is numeric, and numeric arithmetic on every posting read was a
        # third of the candidates' time (4.2 -> 2.9 ms a question at 65k passages, the same scores).
        norm = f"{K1}::float8 * ({1 - B}::float8 + {B}::float8 * p.length / %(average)s::float8)"
        score = f"sum(w.idf * p.tf / (p.tf + {norm}))"
        params = {"terms": terms, "idfs": idfs, "average": self.average, "n": n, "reach": REACH}
        allowed_only = ""
        if allowed is not None:
            params["allowed"] = sorted(allowed)
            allowed_only = "AND q.passage_id = ANY(%(allowed)s::int8[])"
        # Candidates from each stem's strongest postings (all of a rare stem's), by the impact index ...
        found = self.conn.execute(
            f"""SELECT p.passage_id, {score} FROM unnest(%(terms)s::text[], %(idfs)s::float8[]) AS w(stem, idf)
                CROSS JOIN LATERAL (
                    SELECT q.passage_id, q.tf, q.length FROM postings q WHERE q.stem = w.stem {allowed_only}
                    ORDER BY {IMPACT} DESC LIMIT %(reach)s) AS p
                GROUP BY p.passage_id ORDER BY 2 DESC, 1 LIMIT %(n)s""",
            params,
            prepare=False if allowed is not None else None,  # planned for its ids: see the note at the top
        ).fetchall()
        top = [pid for pid, s in found if s > 0]
        # ... then every candidate's exact score, from each candidate's own postings (by `postings_passage`; the
        # `OFFSET 0` keeps the planner from turning it back into a scan of the stems' postings). Read by stem, the
        # statement went through every posting of the question's stems, ~46,000 a question at 65k passages and
        # growing with the corpus; by candidate it reads ~60 a candidate at any size, in the same time at 65k
        # (2.31 / 3.90 ms median / p95 against 2.12 / 4.36 over 60 questions in 3 rounds, the same scores).
        params["ids"] = list(dict.fromkeys([*top, *also]))
        rows = self.conn.execute(
            f"""SELECT p.passage_id, {score} FROM unnest(%(ids)s::int8[]) AS c(id)
                CROSS JOIN LATERAL (
                    SELECT q.stem, q.passage_id, q.tf, q.length FROM postings q WHERE q.passage_id = c.id OFFSET 0) AS p
                JOIN unnest(%(terms)s::text[], %(idfs)s::float8[]) AS w(stem, idf) USING (stem)
                GROUP BY p.passage_id""",
            params,
        )
        return top, {pid: float(s) for pid, s in rows}


class PgSentences:
    """Sentence vectors (halfvec), read for the rescored passages or searched by their HNSW index."""

    def __init__(self, conn, dimension: int, count: int) -> None:
        self.conn = conn
        self.d = dimension
        self.count = count

    def __len__(self) -> int:
        return self.count

    def cosines(self, pids: list[int], query: np.ndarray) -> list[np.ndarray]:
        """Computed by the server in float32 (each halfvec row cast up, the question as it is): a float a sentence
        comes back rather than its vector (decoding ~300 vectors a question was most of this read)."""
        if not pids or not self.count:
            return [np.zeros(0, dtype=np.float32) for _ in pids]
        from pgvector import Vector

        found: dict[int, list[float]] = {pid: [] for pid in pids}
        d = self.d
        for pid, cosine in self.conn.execute(
            f"""SELECT passage_id, -(embedding::vector({d}) <#> %s::vector({d})) FROM sentences
                WHERE passage_id = ANY(%s::int8[]) ORDER BY passage_id, ord""",
            (Vector(np.asarray(query, dtype=np.float32)), list(pids)),
            binary=BINARY,
        ):
            found[pid].append(cosine)
        return [np.asarray(found[pid], dtype=np.float32) for pid in pids]

    def best_cosines(self, pids: list[int], query: np.ndarray) -> np.ndarray:
        return np.asarray([c.max() if len(c) else np.nan for c in self.cosines(pids, query)], dtype=np.float32)

    def search(self, query: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        """The `n` nearest by the sentences' signs (`schema.make_sentence_graph`), `SIGNS_RESCORED` times as many
        taken, then scored on their rows."""
        from pgvector import HalfVector, Vector

        wanted = min(MAX_EF_SEARCH, n * SIGNS_RESCORED)
        self.conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, wanted)}")
        d = self.d
        rows = self.conn.execute(
            f"""SELECT passage_id, ord, -(embedding::vector({d}) <#> %(q)s::vector({d})) FROM (
                    SELECT passage_id, ord, embedding FROM sentences
                    ORDER BY binary_quantize(embedding)::bit({d}) <~> binary_quantize(%(h)s::halfvec({d})) LIMIT %(wanted)s
                ) AS near ORDER BY 3 DESC, 1, 2 LIMIT %(n)s""",
            {"q": Vector(np.asarray(query, dtype=np.float32)), "h": HalfVector(np.asarray(query, dtype=np.float16)),
             "wanted": wanted, "n": n},
        ).fetchall()
        return [(pid, k, float(score)) for pid, k, score in rows]


class PgSnapshot:
    """Reads through `conn`, which must be inside a REPEATABLE READ transaction."""

    def __init__(self, conn, meta: dict[str, str], frequencies: dict[str, int] | None = None) -> None:
        """`frequencies`: stems' document frequencies already counted on this version (filled as questions ask)."""
        self.conn = conn
        self.generation = int(meta.get("generation", 0))
        dimension = int(meta.get("dimension") or 0)
        passages = int(meta.get("passages", 0))
        self.vectors = PgPassageVectors(conn, dimension, passages)
        self.keywords = PgKeywords(conn, passages, int(meta.get("total_length", 0)), frequencies)
        self.sentences = PgSentences(conn, dimension, int(meta.get("sentences", 0)))

    def article_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def catalog_rows(self) -> list[tuple[str, str | None, str | None, str | None]]:
        return self.conn.execute("SELECT id, source, url, published FROM articles").fetchall()

    def passages_of(self, article_ids: set[str]) -> set[int]:
        rows = self.conn.execute("SELECT id FROM passages WHERE article_id = ANY(%s)", (sorted(article_ids),))
        return {row[0] for row in rows}

    def quoting(self, phrases: list[str]) -> set[int]:
        # The english configuration drops stop words: a phrase of stop words only ("The Who") is matched as
        # whole words instead, case-insensitively (phrases hold only words and single spaces).
        each = r"""CASE WHEN numnode(phraseto_tsquery('english', %s)) = 0
                       THEN body ~* ('\m' || replace(%s, ' ', '\s+') || '\M')
                       ELSE to_tsvector('english', body) @@ phraseto_tsquery('english', %s) END"""
        condition = " AND ".join([f"({each})"] * len(phrases))
        rows = self.conn.execute(f"SELECT id FROM passages WHERE {condition}", [v for p in phrases for v in (p, p, p)])
        return {row[0] for row in rows}

    def passage_spans(self, after: int = 0) -> list[tuple[str, str | None, int, int, int]]:
        return self.conn.execute(
            """SELECT a.id, a.published, min(p.id), max(p.id), count(*)
               FROM articles a JOIN passages p ON p.article_id = a.id WHERE p.id > %s GROUP BY a.id""",
            (after,),
        ).fetchall()

    def passage_rows(self, pids: list[int]) -> dict[int, dict]:
        if not pids:
            return {}
        rows = self.conn.execute(
            """SELECT p.id, p.char_start, p.char_end, p.sentences, p.body, a.id, a.title, a.source, a.url, a.published, a.path,
                      p.ord, p.words
               FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id = ANY(%s)""",
            (list(pids),),
        )
        return {row[0]: passage_row(row) for row in rows}

    def lead_passages(self, article_ids: set[str]) -> list[tuple]:
        return self.conn.execute(
            """SELECT p.id, a.id, a.title, a.source, a.url, a.published, a.path
               FROM passages p JOIN articles a ON a.id = p.article_id
               WHERE p.ord = 0 AND a.id = ANY(%s)
               ORDER BY coalesce(a.published, '') DESC, a.id DESC""",
            (sorted(article_ids),),
        ).fetchall()

    def lead_text(self, pid: int) -> tuple[int, list[list[int]], str]:
        start, spans, text = self.conn.execute(
            "SELECT p.char_start, p.sentences, a.text FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id = %s",
            (pid,),
        ).fetchone()
        return start, spans, text

