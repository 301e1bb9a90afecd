"""The neural models, loaded offline from installed packages: the embedding model (`embedder`) on torch or ONNX
Runtime (`onnx_backend`)."""
