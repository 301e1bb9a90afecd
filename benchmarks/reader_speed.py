"""What the reader costs: tokens a question reads, pairs and tokens a second at the lengths it reads, the
multiply-adds of a pair, and the share of this machine's int8 matrix-multiply rate that reaches.

    .venv/bin/python benchmarks/reader_speed.py [--questions 100]

The machine's rate is measured, not taken from a data sheet: onnxruntime's own int8 matrix multiply
(MatMulInteger, uint8 x int8, 2048 x 768 by 768 x 1536: a feed-forward layer's shape at a batch of 2,048 tokens) on the
same threads. The model's multiply-adds per token are counted from its shape (ms-marco-MiniLM-L-12-v2: 12
layers, 384 wide, 1,536 in the feed-forward layer): 4·384² for attention's projections, 2·384·1,536 for the
feed-forward layer and 2·n·384 for the attention itself over n tokens, per layer.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time

import numpy as np
from bench_index import BENCH, open_bench_index

from index import CrossEncoder
from index.answering.evaluate import load_questions

LAYERS, WIDTH, FEED_FORWARD = 12, 384, 1536


def macs_per_pair(tokens: int) -> float:
    """Multiply-adds of one (question, text) pair of `tokens` tokens."""
    per_token = 4 * WIDTH * WIDTH + 2 * WIDTH * FEED_FORWARD + 2 * tokens * WIDTH
    return LAYERS * tokens * per_token


class CountingReader(CrossEncoder):
    """The real reader, counting the tokens of every pair it reads."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[int] = []

    def _run(self, encodings: list) -> np.ndarray:
        self.tokens += [len(e.ids) for e in encodings]
        return super()._run(encodings)


def int8_rate(seconds: float = 3.0) -> float:
    """Multiply-adds a second of onnxruntime's int8 MatMulInteger on this machine (all cores)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rows, inner, cols = 2048, 768, 1536
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "int8",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [rows, inner]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [inner, cols])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [rows, cols])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.integers(0, 255, (rows, inner), dtype=np.uint8), "b": rng.integers(-127, 127, (inner, cols), dtype=np.int8)}
    session.run(None, feed)
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        session.run(None, feed)
        runs += 1
    return runs * rows * inner * cols / (time.perf_counter() - started)


def pairs_rate(reader: CrossEncoder, question: str, texts: list[str], tokens: int, seconds: float = 3.0) -> tuple[float, int]:
    """Pairs a second when `texts` are read at `tokens` tokens of the pair (batched as the reader batches); their mean length."""
    reader.score(question, texts, tokens)
    encodings = reader._encode(question, texts, tokens)
    length = round(statistics.mean(len(e.ids) for e in encodings))
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        reader.score(question, texts, tokens)
        runs += 1
    return runs * len(texts) / (time.perf_counter() - started), length


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=100, help="questions whose reading is counted")
    args = parser.parse_args()
    reader = CountingReader()
    index = open_bench_index(cross_encoder=reader)
    if index is None:
        return 1
    index.warm_up()
    questions = load_questions(BENCH / "questions.jsonl")[: args.questions]
    per_question: list[int] = []
    for item in questions:
        before = len(reader.tokens)
        index.search(item.question, k=3, asked=item.asked)
        per_question.append(sum(reader.tokens[before:]))
    cuts = statistics.quantiles(per_question, n=100, method="inclusive")
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:  # long texts, cut to each length
        passages = [json.loads(line)["text"] for _, line in zip(range(20), handle)]
    peak = int8_rate()
    print(f"tokens read per question ({len(questions)} questions, k=3): mean {statistics.mean(per_question):.0f}, "
          f"p50 {cuts[49]:.0f}, p95 {cuts[94]:.0f}; pairs per question {len(reader.tokens) / len(questions):.1f}; "
          f"multiply-adds per question {sum(map(macs_per_pair, reader.tokens)) / len(questions) / 1e9:.0f} G")
    print(f"onnxruntime int8 MatMulInteger on this machine: {peak / 1e9:.0f} GMAC/s\n")
    print("| pair length (tokens) | pairs / s | tokens / s | MACs per pair | GMAC/s | share of the int8 rate |")
    print("|---|---|---|---|---|---|")
    for tokens in (32, 64, 128, 192):
        rate, length = pairs_rate(reader, questions[0].question, passages, tokens)
        macs = macs_per_pair(length)
        print(f"| {length} | {rate:.0f} | {rate * length:.0f} | {macs / 1e9:.2f} G | {rate * macs / 1e9:.0f} "
              f"| {rate * macs / peak:.0%} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
