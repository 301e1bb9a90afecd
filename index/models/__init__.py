"""The neural models, loaded offline from installed packages: the embedding model (`embedder`, on torch or ONNX
Runtime via `onnx_backend`; or `bge_small`), and the reader (`cross_encoder`)."""

from __future__ import annotations

from index.models.embedder import Embedder


def open_embedder(name: str, backend: str) -> Embedder:
    """The embedding model `NEWSBOT_EMBEDDING_MODEL` names (loaded on first use), run on `backend`."""
    from index.models.bge_small import BgeSmallEmbedder, is_bge

    return BgeSmallEmbedder() if is_bge(name) else Embedder(name, backend)
