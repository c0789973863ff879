"""Embedded Kubernetes-compatible API server on SQLite (aiohttp + apsw), used by real kubectl and clients."""
