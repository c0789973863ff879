"""asyncio helpers shared by cloud and edge: loop selection, backoff, task supervision."""
