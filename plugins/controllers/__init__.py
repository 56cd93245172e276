"""Budget controllers: producers that draw their own samples and stop early (METHODS §3)."""
