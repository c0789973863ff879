"""`kedge demo`: the whole system on one host, on the embedded defaults (ARCHITECTURE.md §8)."""
