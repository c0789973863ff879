"""edgecore: the edge side of kedge."""
