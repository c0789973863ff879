"""The scale harness (Edgemark for kedge): hollow edge nodes, the density test, results and plots."""
