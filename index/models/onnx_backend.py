"""Run the embedding model on ONNX Runtime: exported once from the local torch model, optionally quantized
to int8 (dynamic, per channel), and cached per model and backend so later processes only load the file.

sentence-transformers' own ONNX backend goes through optimum-onnx, whose only release requires
transformers < 4.58 while sentence-transformers 6 requires transformers 5: the export here uses
`torch.onnx.export` and onnxruntime's quantizer directly. The model must pool by the mean of its token
embeddings (as all-MiniLM-L6-v2 does); pooling and normalizing happen in numpy, exactly as the
torch path computes them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import filelock
import numpy as np

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
FORMAT = 2  # bump when the export changes, so old cached files are not used (2: eager attention, fused graph)


class BackendError(RuntimeError):
    """The ONNX model cannot be made or loaded; the message says why."""


def cache_root() -> Path:
    """Where exported models are kept: `$NEWSBOT_CACHE_DIR`, else the user's cache folder (works on a read-only install)."""
    configured = os.environ.get("NEWSBOT_CACHE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "newsbot"


@functools.cache
def has_vnni() -> bool:
    """Whether the CPU has 8-bit dot-product instructions (AVX-512 VNNI or AVX-VNNI)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def model_file(model_dir: Path, backend: str) -> Path:
    """The cached ONNX file for this model folder and backend, exported (and quantized) on first use.

    The versions that made it are read from the installed distributions, not by importing torch and transformers
    (~1.8 s): a process whose file is already made never imports them.
    """
    from importlib.metadata import version

    stamp = os.stat(model_dir / "config.json").st_mtime_ns if (model_dir / "config.json").exists() else 0
    key = f"{model_dir.name}-{hashlib.sha256(f'{model_dir.resolve()}:{stamp}'.encode()).hexdigest()[:12]}"
    folder = cache_root() / "onnx" / key
    quantized = backend == "onnx-int8"
    # AVX2 without VNNI saturates u8 x s8 products; 7-bit weights avoid it there (onnxruntime's advice).
    reduce_range = quantized and not has_vnni()
    name = "model-int8-r7.onnx" if reduce_range else "model-int8.onnx" if quantized else "model.onnx"
    target = folder / name
    versions = {"format": FORMAT, "torch": version("torch"), "transformers": version("transformers")}
    stamp_file = folder / "versions.json"
    if target.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == versions:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(folder / "export.lock"), timeout=600):
            if target.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == versions:
                return target
            _export(model_dir, folder / "model.onnx")
            _fuse(folder / "model.onnx", model_dir)
            if quantized:
                _quantize(folder / "model.onnx", target, reduce_range)
            stamp_file.write_text(json.dumps(versions))
    except (OSError, filelock.Timeout) as exc:
        raise BackendError(f"cannot write the ONNX model under {folder} ({exc}); set NEWSBOT_CACHE_DIR to a writable folder") from None
    return target


def _export(model_dir: Path, target: Path) -> None:
    """Export the transformer (token embeddings out) to `target`, atomically."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention exports as plain MatMul/Softmax, which onnxruntime's optimizer fuses (`_fuse`);
    # the SDPA export is left unfused and ran 25% slower.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    example = tokenizer(["an example sentence to trace"], return_tensors="pt")

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the model's Python code, of no use here
            torch.onnx.export(
                TokenEmbeddings(model), tuple(example[k] for k in INPUTS), tmp, input_names=list(INPUTS),
                output_names=["token_embeddings"], opset_version=OPSET, dynamo=False,
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "token_embeddings")},
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fuse(path: Path, model_dir: Path) -> None:
    """Fuse attention, layer norms and GELU in place with onnxruntime's BERT optimizer, atomically.

    Same vectors (cosine 1.0000 to torch on 200 news passages); int8 of the fused graph embedded 38.5
    passages/s against 25.3 unfused and 29–32 for torch, in one run on this machine.
    """
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text())
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the optimizer logs each fusion on the root logger
    try:
        fused = optimizer.optimize_model(
            str(path), model_type="bert", num_heads=int(config["num_attention_heads"]), hidden_size=int(config["hidden_size"])
        )
        fused.save_model_to_file(tmp)
        os.replace(tmp, path)
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _quantize(source: Path, target: Path, reduce_range: bool) -> None:
    """Dynamic int8 quantization, one scale per output channel of each weight, atomically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice on the root logger
    try:
        # The fused operators are outside shape inference's reach: their outputs are float32.
        quantize_dynamic(
            str(source), tmp, per_channel=True, reduce_range=reduce_range, weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)


def cpu_session(path: Path, threads: int | None = None):
    """An ONNX Runtime session of the model at `path` on the CPU, every graph optimization on, `threads` (default:
    every core) per inference: the one way every model of the project is run (raises what onnxruntime raises)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Token embeddings from an ONNX Runtime session; thread-safe (`run` may be called concurrently)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            self.session = cpu_session(path, threads)
        except Exception as exc:  # a truncated or foreign file in the cache
            raise BackendError(f"cannot load the ONNX model {path}: {exc}; delete it to export again") from None

    def token_embeddings(self, encoded: dict) -> np.ndarray:
        """[batch, tokens, dimension] float32 for tokenizer output (numpy arrays)."""
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in INPUTS}
        return self.session.run(None, feed)[0]


def mean_pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length mean of the real tokens' embeddings, one row per text (the model's own pooling)."""
    weights = mask[..., None].astype(np.float32)
    summed = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return (summed / np.maximum(norms, 1e-12)).astype(np.float32)


def check_mean_pooling(model_dir: Path) -> None:
    """`BackendError` unless the model pools by the mean of its tokens (what `mean_pool` computes)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = {m.get("type", "").rsplit(".", 1)[-1] for m in modules}
        if not kinds <= {"Transformer", "Pooling", "Normalize"}:
            raise BackendError(f"the ONNX backends run Transformer + Pooling (+ Normalize) models, not {sorted(kinds)}; use torch")
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((model_dir / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError) as exc:
        raise BackendError(f"cannot read the pooling of the model in {model_dir}: {exc}") from None
    if not config.get("pooling_mode_mean_tokens") or any(
        config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_lasttoken")
    ):
        raise BackendError("the ONNX backends support models that pool by the mean of their tokens; use torch")


def max_tokens(model_dir: Path, default: int = 256) -> int:
    """The model's window in tokens, as sentence-transformers reads it."""
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", default))
    except (OSError, ValueError):
        return default


def batch_tokenizer(model_dir: Path, window: int):
    """The model's fast tokenizer (`tokenizer.json`) read by `tokenizers` alone and cut at `window` tokens, as
    sentence-transformers calls it: the same ids, without importing transformers and torch (~1.8 s of every process
    start). A folder with only a slow tokenizer (a `vocab.txt`, a sentencepiece model) is converted by transformers,
    imported then only. Batches are padded by `padded_batch`."""
    try:
        if (model_dir / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True).backend_tokenizer
    except Exception as exc:  # unreadable or not a tokenizer: one line, as for the model itself
        raise BackendError(f"cannot read the tokenizer in {model_dir}: {exc}".splitlines()[0]) from None
    tokenizer.enable_truncation(window)
    tokenizer.no_padding()
    return tokenizer


def padded_batch(encodings: list) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A batch of `tokenizers` encodings as a model's int64 inputs (`INPUTS`), padded with zeros to the longest
    (padding is masked out, so its ids change nothing), and each token's character offsets, (0, 0) for padding."""
    width = max(len(e.ids) for e in encodings)
    feed = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUTS}
    offsets = np.zeros((len(encodings), width, 2), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        n = len(encoding.ids)
        feed["input_ids"][row, :n] = encoding.ids
        feed["attention_mask"][row, :n] = 1
        feed["token_type_ids"][row, :n] = encoding.type_ids
        offsets[row, :n] = encoding.offsets
    return feed, offsets
