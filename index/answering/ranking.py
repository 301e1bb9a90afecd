"""How candidates are found and scored: the weights the benchmark compares side by side."""

from __future__ import annotations

from dataclasses import dataclass

RRF_K = 60  # the usual constant of reciprocal rank fusion


@dataclass(frozen=True)
class Ranking:
    """How candidates are found and scored; the benchmark compares these side by side."""

    # Weights tuned on RealTimeQA 2022 (docs/benchmarks.md): BM25 is the stronger signal on news
    # questions full of names, the dense score adds paraphrase, the best sentence rewards passages
    # where the question's rare words stand together.
    dense: float = 0.4  # weight of the min-max normalized cosine similarity
    keyword: float = 0.6  # weight of BM25 relative to the best BM25 among the candidates
    sentence: float = 0.3  # weight of the best sentence's share of the question's IDF mass
    candidates: int = 100  # taken from each retriever
    rescored: int = 30  # top fused candidates whose sentences are scored
    # Added when the question has time words ("this week") and the article was published in the
    # span they point to, counted back from the day the question is asked (weighted-fusion scale).
    recency: float = 0.2
    # Added when the question has no time words and the article was published in the month before it
    # was asked (`recency.CURRENT_DAYS`): a news question is mostly about what is happening now, and an
    # archive holds last year's storm, award and conference under the same words. RealTimeQA 2022
    # (docs/benchmarks.md): a plateau from 0.1 to 0.2, Hits@1 +0.02, MRR@10 +0.02.
    untimed_recency: float = 0.15
    fusion: str = "weighted"  # or "rrf": reciprocal rank fusion of the two rankings (for comparison)
    # Sentence meaning (vectors pooled per sentence at index time, docs/benchmarks.md):
    # Measured on RealTimeQA 2022 (docs/benchmarks.md): the meaning and novelty of a sentence pick a
    # better highlight (first-highlight accuracy +0.033); the sentence retriever and the closest
    # sentence in fusion found nothing the other retrievers missed there and cost latency, so they
    # are off by default and kept for corpora where a passage is long and only one sentence fits.
    sentence_candidates: int = 0  # passages taken from the nearest sentences (a third retriever)
    sentence_dense: float = 0.0  # fused weight of a passage's closest sentence (min-max normalized cosine)
    sentence_meaning: float = 0.5  # in a sentence's score, the cosine's share against its rare-word share
    sentence_novelty: float = 0.2  # added to a sentence's score for names and numbers the question lacks
    # News is written as an inverted pyramid: the opening passage says who, what, where and when. Added
    # to a rescored passage that opens its article, on the weighted-fusion scale (RealTimeQA 2022,
    # docs/benchmarks.md: a plateau from 0.06 to 0.15; Hits@1 +0.018, MRR@10 +0.010, first highlight
    # +0.027 over none).
    lead_passage: float = 0.1
    # Pseudo-relevance feedback (Rocchio): the question's vector is moved toward the mean vector of the best
    # fused candidates and every candidate's cosine taken again, so a passage about the same story in other
    # words rises with them. RealTimeQA 2022 (docs/benchmarks.md): a plateau from 10 to 20 candidates at 1-2x.
    feedback: int = 20  # best fused candidates averaged (0: none)
    feedback_weight: float = 1.5  # their mean's weight against the question's unit vector
    # Answer redundancy: a name or number the question lacks that several of the best passages hold is
    # most likely what it asks for; the highlight prefers a sentence holding it (docs/benchmarks.md:
    # first highlight +0.02). It picks the bold sentence only: the passages' order is already set.
    redundancy: float = 0.2  # added to a sentence's highlight score for the most widely held new name
    redundancy_depth: int = 10  # best rescored passages whose names are counted
    # The reader (a cross-encoder, `reranking`) reads the best rescored candidates, each passage cut to
    # `rerank_tokens` tokens of the (question, passage) pair, and orders them by its z-scored reading plus the
    # z-scored fused score; then it reads the sentences of the best `rerank_sentences`, whose best sentence's
    # reading joins their order, and whose bold sentence becomes the reader's best when it reads `rerank_highlight`
    # logits better than the ranking's pick (that pick wins near-ties: it counts the names the best passages
    # share). RealTimeQA 2022 (docs/benchmarks.md, "The reader"): among the settings that lose on neither half of
    # the days asked, the one with the reader's largest share, at about 3,000 tokens a question; the seed
    # questions, fitted on by none of them, gain most (Hits@1 0.667 -> 0.806, first highlight 0.611 -> 0.750).
    rerank: int = 10  # best rescored candidates the reader reads (0: no reader)
    rerank_tokens: int = 192  # of each (question, text) pair
    rerank_title: bool = False  # read the passage after its article's title (a title that answers lifts every passage)
    rerank_passage: float = 1.0  # weight of the passage's z-scored reading
    rerank_fused: float = 1.0  # weight of the z-scored fused score, the ranking before the reader
    rerank_sentences: int = 3  # best read passages whose sentences are read too
    rerank_sentence: float = 0.25  # weight of the z-scored reading of their best sentence
    rerank_highlight: float | None = 1.0  # logits the reader's best sentence must read above the bold one (None: never)
    rerank_recurring: float = 4.0  # logits a sentence gains there for the most widely held name the question lacks


DEFAULT_RANKING = Ranking()
# The default before the reader (issue 25): the same ranking, unread.
UNREAD_RANKING = Ranking(rerank=0)
# The default before sentence vectors (issue 9): sentences scored and highlighted by rare words alone.
PREVIOUS_RANKING = Ranking(
    dense=0.4, keyword=0.6, sentence=0.3, recency=0.2, sentence_meaning=0.0, sentence_novelty=0.0, lead_passage=0.0,
    untimed_recency=0.0, feedback=0, redundancy=0.0, rerank=0,
)
# The two retrievers alone, as keyword search and a plain vector-search bot rank: no dates, no sentences.
BM25_ONLY = Ranking(
    dense=0.0, keyword=1.0, sentence=0.0, recency=0.0, sentence_meaning=0.0, sentence_novelty=0.0, lead_passage=0.0,
    untimed_recency=0.0, feedback=0, redundancy=0.0, rerank=0,
)
DENSE_ONLY = Ranking(
    dense=1.0, keyword=0.0, sentence=0.0, recency=0.0, sentence_meaning=0.0, sentence_novelty=0.0, lead_passage=0.0,
    untimed_recency=0.0, feedback=0, redundancy=0.0, rerank=0,
)
