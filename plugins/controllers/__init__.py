"""Budget controllers: producers that draw their own samples and stop early (docs/methods.md §3)."""
