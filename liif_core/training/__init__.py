"""Training LIIF models: patch sampling, generated UI material, the resumable training loop."""
