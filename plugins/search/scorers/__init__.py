"""Built-in step scorers for step-level search, one per module (see docs/search.md)."""
