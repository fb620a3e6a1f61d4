"""Dataset stage: the table and its schema, the output folder written in one move, the build facts, the dataset card
and what changed since the previous version."""
