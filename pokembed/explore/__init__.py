"""Explore stage: the index and its rankings over a loaded dataset, asking the records, embedding arithmetic, query
checks, display names, and the Space's answers as plain data (no web framework here)."""
