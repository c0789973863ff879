"""The only importer of kubernetes_asyncio: clients for the embedded API server or a real cluster."""
