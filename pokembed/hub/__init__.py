"""Hub stage: publishing a built folder as a tagged version, deploying the Space that serves it, running the build as
a Hugging Face Job, and reading which version a dataset folder or repo holds."""
