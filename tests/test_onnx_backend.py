"""The ONNX backends: exported from the real packaged model into a cache folder, agreeing with torch, recorded
in the index's model key so vectors of two backends never mix, and a bad setting refused in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import NATO_QUESTION, SEEDS, cli_env, make_index, newsbot

from index import Embedder, Index, ModelMismatch, Settings
from index.indexing.passages import split_passages
from index.models.embedder import ModelError, model_path
from index.models.onnx_backend import BackendError, batch_tokenizer, cache_root, padded_batch
from index.settings import DEFAULT_MODEL


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSBOT_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def int8(cache) -> Embedder:
    return Embedder(backend="onnx-int8")


def test_onnx_vectors_agree_with_torch(cache, embedder, int8):
    texts = [(SEEDS / name).read_text(encoding="utf-8")[:1200] for name in sorted(p.name for p in SEEDS.iterdir())]
    texts += [NATO_QUESTION, "Who speaks for the Kremlin?"]
    reference = embedder.encode(texts)
    exact = Embedder(backend="onnx").encode(texts)
    assert np.allclose((exact * reference).sum(axis=1), 1.0, atol=1e-4), "fp32 ONNX computes what torch computes"
    close = (int8.encode(texts) * reference).sum(axis=1)
    assert close.min() > 0.97, close  # int8 per-channel: measured mean 0.994, min 0.989 on 300 news passages
    assert np.allclose(int8.encode_query(NATO_QUESTION), int8.encode([NATO_QUESTION])[0], atol=1e-5)
    assert list(cache.rglob("*.onnx")), "exported into NEWSBOT_CACHE_DIR"
    assert cache_root() == cache


def test_a_process_with_its_onnx_file_made_never_imports_torch_or_transformers(cache, int8):
    """Their import was ~1.8 s of every `newsbot ask` and `serve` start; the ONNX path needs neither."""
    int8.encode(["made: the export is the one step that needs torch"])
    code = """import sys
from index import Embedder
model = Embedder(backend="onnx-int8")
model.encode(["The alliance expelled eight members of the mission."])
model.encode_query("why did NATO expel the diplomats?")
print(",".join(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules) or "none")"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NEWSBOT_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


def test_a_model_folder_with_only_a_slow_tokenizer_is_tokenized_alike_and_a_broken_one_is_one_line(tmp_path):
    packaged = model_path(DEFAULT_MODEL)
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
        shutil.copy(packaged / name, folder / name)
    texts = [NATO_QUESTION, "", "Café — naïve “quotes”, 中文 and 😀", "word " * 400]
    fast, slow = (batch_tokenizer(path, 256).encode_batch(texts) for path in (packaged, folder))
    for field in ("ids", "attention_mask", "type_ids", "offsets"):
        assert [getattr(e, field) for e in fast] == [getattr(e, field) for e in slow], field
    assert len(fast[-1].ids) == 256, "cut at the window"
    feed, offsets = padded_batch(fast)
    assert feed["input_ids"].shape == feed["attention_mask"].shape == offsets.shape[:2] == (len(texts), 256)
    real = len(fast[0].ids)
    assert feed["attention_mask"][0].tolist() == [1] * real + [0] * (256 - real), "padded to the longest, masked"
    assert feed["input_ids"][0, :real].tolist() == fast[0].ids and not offsets[0, real:].any()
    (folder / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BackendError) as refused:
        batch_tokenizer(folder, 256)
    assert str(folder) in str(refused.value) and "\n" not in str(refused.value)


def test_sentence_vectors_from_one_onnx_pass_match_the_torch_ones(embedder, int8):
    text = (SEEDS / sorted(p.name for p in SEEDS.iterdir())[0]).read_text(encoding="utf-8")
    items = []
    for passage in split_passages(text)[:3]:  # real passages and sentence spans, as the indexer makes them
        spans = [(s - passage.start, e - passage.start) for s, e in passage.sentences]
        items.append(("Title\n", text[passage.start : passage.end], spans))
    torch_passages, torch_sentences = embedder.encode_with_sentences(items)
    onnx_passages, onnx_sentences = Embedder(backend="onnx").encode_with_sentences(items)
    assert np.allclose(onnx_passages, torch_passages, atol=1e-4)
    assert all(len(o) > 1 and np.allclose(o, t, atol=1e-4) for o, t in zip(onnx_sentences, torch_sentences))


def test_the_backend_is_part_of_the_model_key_so_vectors_never_mix(tmp_path, embedder, int8):
    index = make_index(tmp_path, int8)
    index.update(progress=False)
    answers = index.search(NATO_QUESTION).answers
    assert answers and "intelligence" in " ".join(a.quote for a in answers)
    assert index.stats().model.endswith("@onnx-int8")
    torch_reader = make_index(tmp_path, embedder)
    with pytest.raises(ModelMismatch, match="@onnx-int8"):
        torch_reader.search(NATO_QUESTION)
    assert Settings(index_dir=tmp_path, articles_dir=SEEDS).embedding_backend == "auto"


def test_a_bad_backend_is_one_line(tmp_path):
    with pytest.raises(ModelError, match="must be one of"):
        Embedder(backend="tensorrt")
    done = newsbot("ask", NATO_QUESTION, env=cli_env(tmp_path, NEWSBOT_EMBEDDING_BACKEND="gpu"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "NEWSBOT_EMBEDDING_BACKEND must be auto, torch, onnx or onnx-int8" in done.stderr


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(blocked))
    with pytest.raises(ModelError, match="NEWSBOT_CACHE_DIR"):
        Embedder(backend="onnx").encode(["x"])


def test_auto_embeds_questions_on_onnx_with_torchs_vectors_and_key(cache, embedder):
    auto, torch_only = Embedder(backend="auto"), Embedder(backend="torch")
    assert auto.key == torch_only.key == Embedder(backend="onnx").key == embedder.key, "one vector space, one key"
    question = "Who speaks for the Kremlin?"
    assert np.allclose(auto.encode_query(question), torch_only.encode_query(question), atol=1e-4)
    assert auto._onnx is not None and auto._model is None, "a question never loads torch's model"


def test_auto_falls_back_to_torch_when_onnx_cannot_be_prepared(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(blocked))
    auto = Embedder(backend="auto")
    assert np.allclose(auto.encode_query(NATO_QUESTION), Embedder(backend="torch").encode_query(NATO_QUESTION), atol=1e-5)


def test_auto_embeds_a_new_index_in_int8_and_keeps_an_existing_float_index(tmp_path, embedder, cache):
    fresh = Index.open(settings=Settings(index_dir=tmp_path / "new", articles_dir=SEEDS), log=lambda m: None)
    assert fresh.embedder.backend == "onnx-int8"  # nothing recorded yet: the fastest that keeps quality
    fresh.update(progress=False)
    assert fresh.stats().model.endswith("@onnx-int8")
    assert Index.open(settings=Settings(index_dir=tmp_path / "new", articles_dir=SEEDS)).embedder.backend == "onnx-int8"
    old = make_index(tmp_path / "old", embedder)  # built before: torch passages, the model's own key
    old.update(progress=False)
    reopened = Index.open(settings=Settings(index_dir=tmp_path / "old" / "index", articles_dir=SEEDS), log=lambda m: None)
    assert reopened.embedder.backend == "auto" and reopened.embedder.key == old.stats().model
    assert reopened.update(progress=False).embedded == 0, "an upgrade does not re-embed an existing index"
    assert reopened.search(NATO_QUESTION).answers
