"""Each committed version's files in the index folder: the FAISS HNSW graph (`vector_index`), bm25s (`keyword_index`),
sentence vectors (`sentence_index`), a small delta beside an unchanged base (`delta`, `segments`), how they are
built (`building`; streamed to disk by `keyword_writer` and `sentence_writer`, with what is `kept` of the previous
version), loaded (`loaded`), named (`files`) and written durably (`durable`)."""
