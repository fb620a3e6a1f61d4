"""Embedding stage: the model registry, loading, the text and image encoders (nomic's vision model natively), token
batching, the vector cache, the cost forecast and tiny random-weight models for offline runs."""
