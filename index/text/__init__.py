"""Words as the index sees them: stems and BM25 tokens (`keywords`), and each sentence's stems and names (`sentence_words`)."""
