"""LLM providers: one module per backend, all speaking :mod:`.base`'s protocol."""
