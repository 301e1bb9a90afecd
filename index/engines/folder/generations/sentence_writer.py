"""Write a generation's sentence folder from rows streamed in passage id order, never holding them: the rows go
to `vectors.npy` as they come. A full build of a million passages writes about six million sentences (2.3 GB),
which `SentenceIndex.build` would hold in memory whole. (The nearest-sentence index is built by a reading process
that searches sentences, on its first search: `sentence_index`.)

`RowFile` reads such a file back with plain reads, not memory-mapped (the next full build keeps its rows): mapped
pages count as the process's memory while they stay resident, and a build should take the same memory at any
corpus size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.engines.folder.generations.durable import write_folder
from index.engines.folder.generations.sentence_index import (
    FORMAT_FILE,
    IDS_FILE,
    OFFSETS_FILE,
    SCALES_FILE,
    VECTORS_FILE,
    RowCoder,
    folder_format,
)

LARGEST = 2**62  # rows a header is sized for before the count is known (every count up to it has as long a header)


def write_sentences(
    directory: Path,
    generation: int,
    rows: Iterable[tuple[int, np.ndarray]],
    dimension: int,
    scales: np.ndarray | None = None,
    progress: bool = False,
) -> int:
    """Write `(passage id, sentence vectors)` rows, in ascending id order, as `generation`'s sentence folder
    (temp folder, fsync, rename; see `SentenceIndex.build` for `scales`). Returns how many sentences it holds."""
    coder = RowCoder(dimension, scales=scales)
    written = 0

    def fill(tmp: Path) -> None:
        nonlocal written
        path = tmp / VECTORS_FILE
        with open(path, "wb") as out:
            reserved = npy_header(coder.dtype, (LARGEST, dimension))  # rewritten with the count once it is known
            out.write(reserved)
            blocks = tqdm(coder.blocks(rows), desc="Sentence vectors", unit="passage", disable=not progress, leave=False)
            for block in blocks:
                out.write(np.ascontiguousarray(block).tobytes())
                written += len(block)
            out.seek(0)
            out.write(npy_header(coder.dtype, (written, dimension), length=len(reserved)))
        passage_ids, offsets = coder.table()
        np.save(tmp / OFFSETS_FILE, offsets)
        np.save(tmp / IDS_FILE, passage_ids)
        if coder.scales is not None:
            np.save(tmp / SCALES_FILE, coder.scales)
        (tmp / FORMAT_FILE).write_text(folder_format(coder.scales is not None, generation))

    write_folder(Path(directory), fill)
    return written


def npy_header(dtype: type, shape: tuple[int, ...], length: int | None = None) -> bytes:
    """An .npy (version 1.0) header for an array of `shape`; `length`, when given, is checked (the data follows it)."""
    buffer = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    header = buffer.getvalue()
    if length is not None and len(header) != length:
        raise RuntimeError(f"internal error: an .npy header of {len(header)} bytes where {length} were kept")
    return header


class RowFile:
    """The rows of a 2-d .npy file (version 1.0) read with plain reads, through one open file: `len`, `shape`,
    and `[start:stop]` (read-only arrays); `close()` when done (else when collected)."""

    def __init__(self, path: Path, dtype: type, dimension: int) -> None:
        self._fd = -1
        self.path = path
        self.dtype = np.dtype(dtype)
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version != (1, 0):
                raise ValueError(f"{path} is not an .npy file of version 1.0")
            shape, _, _ = np.lib.format.read_array_header_1_0(handle)
            self.offset = handle.tell()
        if len(shape) != 2 or shape[1] != dimension:
            raise ValueError(f"{path} holds rows of shape {shape}, not of {dimension}")
        self.shape = shape
        self.row_bytes = dimension * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, _ = key.indices(len(self))
        count = max(stop - start, 0)
        data = os.pread(self._fd, count * self.row_bytes, self.offset + start * self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(count, self.shape[1])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
