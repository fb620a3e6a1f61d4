"""Source stage: PokéAPI records (live GraphQL, its CSV tables locally or at a GitHub commit), their checks, the
documents embedded from them, and the official artwork fetched and preprocessed."""
