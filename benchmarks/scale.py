"""How the index grows with the corpus, on each engine (issue 28): per size, `newsbot index` from scratch (wall
time, peak RSS), disk per passage, serving RSS and the first answer of a cold process, question p50/p95
(in rounds), adding one article, and `newsbot stats`.

    .venv/bin/python benchmarks/scale.py --copies 1,5,15 [--engine folder|postgres] [--rounds 3] [--served-only]
    .venv/bin/python benchmarks/scale.py --copies 15 --served-only --updates   # updates piling up (folder)
    .venv/bin/python benchmarks/scale.py --copies 15 --served-only --updates --as-before   # the same, as before the
        # delta's graph and the compiled BM25 sums (the delta scanned exactly, BM25 summed by bm25s)
    .venv/bin/python benchmarks/scale.py --copies 15 --served-only --stream 10000 --every 1000   # single-article
        # updates in a row on a copy of the index (folder)

The corpus is RealTimeQA 2022 (4,884 articles, 65k passages) replicated: copy 0 is the real corpus; copy k
gives each article a new id and url, a date k weeks earlier and one word in ten swapped for a corpus word of
the same length (so BM25's vocabulary and every stored text grow as with new articles). Embedding a million
passages takes hours, so a benchmark-only embedder (`DerivedEmbedder`) gives a passage the real vectors of
the index rtqa.py built when its text is unchanged, and otherwise a real passage's vectors (chosen by the
text's hash) plus noise (cosine ~0.95 to it), renormalised. Everything else is what `newsbot index` runs:
files read, passages cut, the engine's own `Writer`. Each size is built, then served, in a fresh process, so a
peak RSS is that size's alone; "base" is the process before indexing (Python, the libraries, the vector pool).
Questions are timed with the reader off: its cost is a fixed ~26 pairs a question whatever the corpus size.
A first pass over the questions is timed apart (its p95: the index's files come from disk as they are first
touched), then the rounds (p50 / p95: a serving process past its first questions).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

# (bench_index also puts the project on the path)
from bench_index import BENCH, BENCH_INDEX, ROOT, bench_embedder, timed_in_rounds, timed_pass

from index import Embedder, Index, Settings
from index.answering.evaluate import load_questions
from index.engines.folder.generations import delta_graph, keyword_index, recent, vector_index
from index.engines.folder.store import Store
from intake.watcher import UPDATE_WAIT

WORK = ROOT / ".bench" / "scale"
NOISE = 0.017  # per dimension: |noise| ~ 0.33, cosine to the real vector ~0.95
SWAP_SHARE = 0.1
QUESTIONS = 100
ARTICLES_A_COPY = 4884  # the 2022 benchmark's articles, each copy of the corpus


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (`VmRSS`) or its peak (`VmHWM`), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the corpus ------------------------------------------------------------------------------------


def corpus_files(copies: int) -> list[Path]:
    """`copies` JSONL files of the replicated corpus (written once, kept in .bench/scale/corpus)."""
    folder = WORK / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"copy-{k:03d}.jsonl" for k in range(copies)]
    if all(p.exists() for p in paths):
        return paths
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    by_length: dict[int, list[str]] = {}
    for word in sorted({w for r in records[:500] for w in re.findall(r"[a-z]+", r["text"])}):
        by_length.setdefault(len(word), []).append(word)
    for k, path in enumerate(paths):
        if path.exists():
            continue
        rng = np.random.default_rng(k)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record if k == 0 else _copy(record, k, rng, by_length)) + "\n")
        tmp.replace(path)
    return paths


def _copy(record: dict, k: int, rng: np.random.Generator, by_length: dict[int, list[str]]) -> dict:
    def swap(match: re.Match) -> str:
        word = match.group(0)
        choices = by_length.get(len(word))
        if not choices or rng.random() >= SWAP_SHARE:
            return word
        new = choices[int(rng.integers(len(choices)))]
        return new.capitalize() if word[0].isupper() else new

    published = record.get("published")
    if published:
        published = (date.fromisoformat(published[:10]) - timedelta(weeks=k)).isoformat()
    return {
        **record,
        "id": f"{record['id']}~{k}",
        "url": f"{record['url']}#copy{k}" if record.get("url") else None,
        "published": published,
        "title": re.sub(r"[A-Za-z]+", swap, record["title"]),
        "text": re.sub(r"[A-Za-z]+", swap, record["text"]),
    }


# --- vectors derived from the real ones ----------------------------------------------------------


class DerivedEmbedder(Embedder):
    """The benchmark index's own vectors for unchanged passages, a real passage's plus noise for the others.

    Only this benchmark uses it: it stands in for hours of embedding so the engines can be measured at sizes
    the machine cannot embed in a session.
    """

    def __init__(self, like: Embedder) -> None:
        super().__init__(like.name, like.backend)
        store = Store(BENCH_INDEX)
        with store.connection() as conn:
            generation = Store.generation(conn)
            hashes = dict(conn.execute("SELECT embed_hash, id FROM passages"))
        matrix, ids = vector_index.contents(store.read_vectors(generation))
        self.vectors = matrix
        self.sentences = store.read_sentences(generation)
        self.sentences.vectors = np.array(self.sentences.vectors)  # read now: in the base RSS, not the build's
        row_of = {int(pid): row for row, pid in enumerate(ids.tolist())}
        self.by_hash = {bytes(digest): row_of[pid] for digest, pid in hashes.items() if pid in row_of}
        self.ids = ids

    def encode_with_sentences(
        self, items: Sequence[tuple[str, str, Sequence[tuple[int, int]]]], batch_size: int = 64,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        passages = np.empty((len(items), self.vectors.shape[1]), dtype=np.float32)
        sentences = []
        for i, (prefix, body, spans) in enumerate(items):
            digest = hashlib.sha1((prefix + body).encode("utf-8")).digest()
            row = self.by_hash.get(digest)
            rng = None
            if row is None:
                rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
                row = int(rng.integers(len(self.ids)))
            real = self.sentences.of(int(self.ids[row]))
            if not len(real):
                real = self.vectors[row : row + 1]
            chosen = real[np.arange(len(spans)) % len(real)]
            vectors = np.vstack([self.vectors[row : row + 1], chosen]).astype(np.float32)
            if rng is not None:
                vectors += rng.normal(0, NOISE, vectors.shape).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            passages[i] = vectors[0]
            sentences.append(vectors[1:])
        if on_batch:
            on_batch(len(items))
        return passages, sentences


# --- one size, in a child process ---------------------------------------------------------------


def built_store(copies: int) -> tuple[Store, int]:
    """The folder index `scale.py` built of `copies` corpus copies, and its current generation (for the benchmarks
    that read its files); exits with a one-line message when it is not built."""
    store = Store(settings_for(copies, "folder", None).index_dir)
    if not (store.directory / "newsbot.sqlite").exists():
        print(f"no {store.directory}: run benchmarks/scale.py --copies {copies} first", file=sys.stderr)
        raise SystemExit(1)
    with store.connection() as conn:
        return store, Store.generation(conn)


def settings_for(copies: int, engine: str, database_url: str | None) -> Settings:
    return Settings(
        index_dir=WORK / f"{engine}-{copies}", articles_dir=WORK / "corpus", database_url=database_url, reader=False
    )


def build(copies: int, engine: str, database_url: str | None) -> dict:
    """`newsbot index` over the first `copies` copies, from scratch: seconds, peak and base RSS, passages."""
    embedder = DerivedEmbedder(bench_embedder())
    index = Index.open(settings=settings_for(copies, engine, database_url), embedder=embedder, log=lambda m: None)
    base = rss_mb()
    started = time.perf_counter()
    summary = index.update(corpus_files(copies), rebuild=True, progress=False)
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": rss_mb("VmHWM"),
        "base_mb": base,
        "passages": summary.passages,
    }


def already_built(copies: int, engine: str, database_url: str | None) -> dict:
    """The build row of an index built earlier (`--served-only`): only its passage count is known."""
    index = Index.open(settings=settings_for(copies, engine, database_url), log=lambda m: None)
    return {"seconds": float("nan"), "peak_mb": float("nan"), "base_mb": float("nan"), "passages": index.stats().passages}


def serve(copies: int, engine: str, database_url: str | None, rounds: int) -> dict:
    """A cold first answer, then question latency in rounds, serving RSS, one new article, and stats."""
    started = time.perf_counter()
    index = Index.open(settings=settings_for(copies, engine, database_url), log=lambda m: None)
    questions = load_questions(BENCH / "questions.jsonl")[:QUESTIONS]
    index.search(questions[0].question, k=10, asked=questions[0].asked)
    cold = time.perf_counter() - started
    index.warm_up()

    def ask(question: str, asked) -> None:
        index.search(question, k=10, asked=asked)

    first = timed_pass(ask, questions)  # the pages of the index's files come from disk as questions first touch them
    timings = np.concatenate(timed_in_rounds({"default": ask}, questions, rounds)["default"])
    serving = rss_mb()
    updates = [one_new_article(index, n) for n in range(2)]
    begun = time.perf_counter()
    stats = index.stats()
    return {
        "cold_s": cold,
        "first_pass_p95_ms": float(np.percentile(first, 95)),
        "p50_ms": float(np.percentile(timings, 50)),
        "p95_ms": float(np.percentile(timings, 95)),
        "serving_mb": serving,
        "update_s": updates,
        "stats_s": time.perf_counter() - begun,
        "size_bytes": stats.size_bytes,
    }


DELTA_STEPS = (2_000, 10_000, 30_000, 60_000, 90_000)  # passages added since the full build, before each measurement


def updates(copies: int, rounds: int) -> list[dict]:
    """The folder engine as updates pile up after its full build: for each size of the delta (articles of the next
    corpus copy added by one update each step, through `DerivedEmbedder`), the update that grew it, one new
    article's update (through the serving index, as `serve`), question p50/p95, and the delta's size on disk.
    The added articles are removed at the end, so the index is left as built."""
    settings = settings_for(copies, "folder", None)
    serving = Index.open(settings=settings, log=lambda m: None)
    feeding = Index.open(settings=settings, embedder=DerivedEmbedder(bench_embedder()), log=lambda m: None)
    questions = load_questions(BENCH / "questions.jsonl")[:QUESTIONS]
    serving.warm_up()
    records = corpus_files(copies + 1)[-1].read_text(encoding="utf-8").splitlines()
    fed = WORK / "new" / "fed.jsonl"
    fed.parent.mkdir(exist_ok=True)
    built = serving.stats().passages
    per_article = built / (copies * len(records))
    store, results = Store(settings.index_dir), []

    def ask(question: str, asked) -> None:
        serving.search(question, k=10, asked=asked)

    try:
        for target in DELTA_STEPS:
            fed.write_text("\n".join(records[: round(target / per_article)]) + "\n", encoding="utf-8")
            started = time.perf_counter()
            summary = feeding.update([fed], progress=False)
            grew = time.perf_counter() - started
            delta_mb = recent_mb(store, summary.generation)  # (measured now: the next updates remove its files)
            single = [one_new_article(serving, n) for n in range(2)]
            timed_pass(ask, questions)  # the new version's files read, as a serving process past its first questions
            timings = np.concatenate(timed_in_rounds({"default": ask}, questions, rounds)["default"])
            results.append({
                "added": summary.passages - built,
                "delta_mb": delta_mb,
                "grew_s": grew,
                "update_s": single[-1],
                "p50_ms": float(np.percentile(timings, 50)),
                "p95_ms": float(np.percentile(timings, 95)),
            })
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        fed.unlink(missing_ok=True)
        feeding.update([fed], progress=False)
    return results


def stream(copies: int, count: int, every: int, rounds: int) -> list[dict]:
    """`count` single-article updates one after another on a copy of the folder index of `copies` copies: the
    articles of the next corpus copy, one file and one update each (vectors derived, as the build), written by one
    index and answered by another (as `serve`'s watcher and its questions). Every `every` updates: the block's mean
    and largest update time, the first answer once the update commits (its version read; before the writer merges
    segments, which the update time includes), MB of index files each wrote, the recent passages and segments,
    question p50/p95 in rounds, and the folds committed (each runs in a process of its own while the next updates
    and questions go on, as `serve`'s watcher's). The copy is removed at the end."""
    source = settings_for(copies, "folder", None)
    settings = replace(source, index_dir=WORK / f"stream-{copies}", articles_dir=WORK / "stream-articles")
    for folder in (settings.index_dir, settings.articles_dir):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source.index_dir, settings.index_dir)
    settings.articles_dir.mkdir()
    try:
        serving = Index.open(settings=settings, log=lambda m: None)
        feeding = Index.open(settings=settings, embedder=DerivedEmbedder(bench_embedder()), log=lambda m: None)
        questions = load_questions(BENCH / "questions.jsonl")[:QUESTIONS]
        serving.warm_up()
        store, results = Store(settings.index_dir), []

        def ask(question: str, asked) -> None:
            serving.search(question, k=10, asked=asked)

        records: list[str] = []
        for path in corpus_files(copies + 1 + count // ARTICLES_A_COPY)[copies:]:  # the next copies, as many as needed
            with path.open(encoding="utf-8") as lines:
                records += [line for _, line in zip(range(count - len(records)), lines)]
        updated, answered, written = [], [], []
        compact = feeding.writer.compact

        def answering_first(progress: bool):
            """The serving index reads the update's own version as soon as it commits (as `serve`'s questions, in
            other threads, do), before the writer merges or folds."""
            ask(questions[0].question, questions[0].asked)
            answered.append(time.perf_counter() - begun)
            return compact(progress)

        feeding.writer.compact = answering_first
        fold, folds = feeding.writer.fold, []

        def timed_fold(progress: bool, own_process: bool = False):
            """A fold's seconds, noted when it commits (it runs in a process of its own, as `serve`'s watcher's)."""
            started = time.perf_counter()
            folded = fold(progress, own_process)
            if folded:
                folds.append(time.perf_counter() - started)
            return folded

        feeding.writer.fold = timed_fold
        for n, line in enumerate(records, start=1):
            path = settings.articles_dir / f"new-{n:05d}.jsonl"
            path.write_text(line, encoding="utf-8")
            begun, since = time.perf_counter(), time.time_ns()
            # As `serve`'s watcher: a fold in a process of its own, and the update lock waited for while a fold takes
            # it to start or finish (milliseconds).
            summary = feeding.update([path], progress=False, wait=UPDATE_WAIT, fold_in_background=True)
            updated.append(time.perf_counter() - begun)  # merging included; a fold runs beside the next updates
            written.append(written_since(settings.index_dir, since))
            if n % every == 0:
                timed_pass(ask, questions)
                timings = np.concatenate(timed_in_rounds({"default": ask}, questions, rounds)["default"])
                found = store.read_recent(summary.generation)
                results.append({
                    "updates": n,
                    "recent": len(found.ids) - len(found.removed) if found else 0,
                    "segments": len(found.segments) if found else 0,
                    "update_s": [float(np.mean(updated)), float(np.max(updated))],
                    "answered_s": [float(np.mean(answered)), float(np.percentile(answered, 95)), float(np.max(answered))],
                    "written_mb": [float(np.mean(written)) / 1e6, float(np.max(written)) / 1e6],
                    "p50_ms": float(np.percentile(timings, 50)),
                    "p95_ms": float(np.percentile(timings, 95)),
                    "folds_s": folds[:],
                })
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
                updated, answered, written = [], [], []
                folds.clear()
        feeding.wait_for_fold()
    finally:
        for folder in (settings.index_dir, settings.articles_dir):
            shutil.rmtree(folder, ignore_errors=True)
    return results


def written_since(directory: Path, since_ns: int) -> int:
    """Bytes of the index files under `directory` changed since `since_ns` (SQLite's database and journal left out)."""
    total = 0
    for root, _, names in os.walk(directory):
        for name in names:
            if ".sqlite" in name:
                continue
            try:
                stat = os.stat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if stat.st_mtime_ns >= since_ns:
                total += stat.st_size
    return total


def recent_mb(store: Store, generation: int) -> float | None:
    """MB on disk of `generation`'s recent passages (its manifest and the segments it lists), None after a full build."""
    delta = store.delta_path(generation)
    if not delta.exists():
        return None
    folders = [delta, *(store.directory / name for name in recent.segments_named(delta))]
    return sum(f.stat().st_size for folder in folders for f in folder.iterdir()) / 1e6


def one_new_article(index: Index, n: int) -> float:
    """Seconds from a new article file to the first answer quoting it: the update, then a question (which
    reads the new index version), checked to answer from the article."""
    folder = WORK / "new"
    folder.mkdir(exist_ok=True)
    path = folder / f"new-{n}.md"
    title = f"Harbour crane number {n} collapses onto the quay at Rotterdam"
    path.write_text(f"---\ntitle: {title}\n---\nA container crane collapsed onto the quay on Tuesday night, halting "
                    "traffic at two terminals, the port authority said. Nobody was injured.\n", encoding="utf-8")
    started = time.perf_counter()
    index.update([path], progress=False)
    found = index.search(title, k=5).answers
    seconds = time.perf_counter() - started
    path.unlink()
    index.update([path], progress=False)  # removed again: every size ends as built
    if not any(answer.article.title == title for answer in found):
        raise RuntimeError(f"the new article is not answered at {index.stats().passages} passages")
    return seconds


# --- disk ------------------------------------------------------------------------------------------


def folder_disk(folder: Path) -> dict[str, int]:
    """Bytes on disk of an index folder by part: each SQLite table (with its indexes) and each kind of file."""
    parts: dict[str, int] = {}
    with sqlite3.connect(f"file:{folder / 'newsbot.sqlite'}?mode=ro", uri=True) as conn:
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owners.get(name, name)
            table = "passages_fts" if table.startswith("passages_fts") else table
            parts[f"sqlite {table}"] = parts.get(f"sqlite {table}", 0) + size
    parts["embedding cache"] = sum(p.stat().st_size for p in folder.glob("embeddings.sqlite*"))  # empty once committed
    names = [p.name for p in folder.iterdir() if p.name.startswith("vectors-")]
    newest = max(names).removeprefix("vectors-").removesuffix(".faiss")  # older generations are not counted
    for entry in folder.iterdir():
        if entry.name.split(".")[0].endswith(f"-{newest}"):
            files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
            kind = entry.name.split("-")[0]
            parts[kind] = parts.get(kind, 0) + sum(p.stat().st_size for p in files)
    return parts


# --- the run ---------------------------------------------------------------------------------------


def child(step: str, copies: int, engine: str, database_url: str | None, rounds: int, as_before: bool = False,
          extra: Sequence[str] = ()) -> dict:
    """Run `step` (build, serve, updates or stream) for one size in a fresh Python process; its JSON result."""
    command = [sys.executable, __file__, "--step", step, "--copies", str(copies), "--engine", engine,
               "--rounds", str(rounds), *extra] + (["--as-before"] if as_before else [])
    if database_url:
        command += ["--database-url", database_url]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", default="1,5,15", help="corpus sizes, in copies of the 65k-passage corpus")
    parser.add_argument("--engine", choices=("folder", "postgres"), default="folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--served-only", action="store_true", help="serve the indexes an earlier run built, without building")
    parser.add_argument("--updates", action="store_true", help="then grow a delta on each (folder): update and question times")
    parser.add_argument("--as-before", action="store_true",
                        help="serve as before the delta's graph and the compiled BM25 sums (the delta scanned, bm25s's sums)")
    parser.add_argument("--stream", type=int, default=0,
                        help="then this many single-article updates in a row on a copy of each (folder)")
    parser.add_argument("--every", type=int, default=1000, help="with --stream: measure after this many updates")
    parser.add_argument("--step", choices=("build", "serve", "updates", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(c) for c in args.copies.split(",")]
    if args.as_before:
        delta_graph.GRAPH_FROM = keyword_index.COMPILED_FROM = sys.maxsize
    if args.step:
        copies = sizes[0]
        if args.step == "build":
            result = build(copies, args.engine, args.database_url)
        elif args.step == "updates":
            result = updates(copies, args.rounds)
        elif args.step == "stream":
            result = stream(copies, args.stream, args.every, args.rounds)
        else:
            result = serve(copies, args.engine, args.database_url, args.rounds)
        print(json.dumps(result))
        return 0
    if not (BENCH_INDEX / "newsbot.sqlite").exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    print("| engine | passages | index s | peak RSS MB (base) | disk KB/passage | serving RSS MB | cold first answer s "
          "| first pass p95 ms | p50 / p95 ms | new article answered s | stats s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for copies in sizes:
        corpus_files(copies)
        url = None
        if args.engine == "postgres":
            from postgres import server_url

            url = server_url(f"scale{copies}")
        built = already_built(copies, args.engine, url) if args.served_only else child("build", copies, args.engine, url, args.rounds)
        served = child("serve", copies, args.engine, url, args.rounds, args.as_before)
        passages = built["passages"]
        if args.engine == "folder":
            disk = folder_disk(WORK / f"folder-{copies}")
            detail = ", ".join(f"{name} {size / passages / 1024:.1f}" for name, size in sorted(disk.items(), key=lambda x: -x[1]))
            print(f"  disk per passage, KB: {detail}", file=sys.stderr)
            total = sum(disk.values())
        else:
            total = served["size_bytes"]
        print(
            f"| {args.engine} | {passages:,} | {built['seconds']:.0f} | {built['peak_mb']:.0f} ({built['base_mb']:.0f}) "
            f"| {total / passages / 1024:.1f} | {served['serving_mb']:.0f} | {served['cold_s']:.1f} "
            f"| {served['first_pass_p95_ms']:.0f} | {served['p50_ms']:.1f} / {served['p95_ms']:.1f} | {served['update_s'][-1]:.1f} | {served['stats_s']:.2f} |",
            flush=True,
        )
        if args.updates and args.engine == "folder":
            for step in child("updates", copies, args.engine, url, args.rounds, args.as_before):
                print(f"|   after adding {step['added']:,} passages ({'a full build' if step['delta_mb'] is None else 'a delta of ' + format(step['delta_mb'], '.0f') + ' MB'}, "
                      f"added in {step['grew_s']:.0f} s): one new article {step['update_s']:.1f} s, p50 / p95 "
                      f"{step['p50_ms']:.1f} / {step['p95_ms']:.1f} ms |", flush=True)
        if args.stream and args.engine == "folder":
            print("\n| updates in a row | recent passages (segments) | update s mean / max | answered s mean / p95 / max "
                  "| MB written mean / max | p50 / p95 ms | folds committed (s) |\n|---|---|---|---|---|---|---|")
            for step in child("stream", copies, args.engine, url, args.rounds,
                              extra=["--stream", str(args.stream), "--every", str(args.every)]):
                print(f"| {step['updates']:,} | {step['recent']:,} ({step['segments']}) "
                      f"| {step['update_s'][0]:.2f} / {step['update_s'][1]:.1f} "
                      f"| {' / '.join(format(x, '.2f') for x in step['answered_s'])} "
                      f"| {step['written_mb'][0]:.1f} / {step['written_mb'][1]:.0f} "
                      f"| {step['p50_ms']:.1f} / {step['p95_ms']:.1f} "
                      f"| {', '.join(format(x, '.0f') for x in step['folds_s']) or '-'} |", flush=True)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
