"""Prompt texts, one module per component. Shared parts (instructions, the question) come
first and candidate-specific text last, so a prefix cache reuses the shared part."""
