"""From a question to ranked passages: candidates from each retriever fused (`candidates`), sentences scored
(`rescoring`, `recurring`), weights (`ranking`), publication days (`published_days`), the whole search
(`search`), stories for digests (`stories`) and answer quality on known questions (`evaluate`)."""
