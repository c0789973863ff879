"""EdgeController: Kubernetes objects down to edge nodes (`downstream`), edge requests up to the API server
(`upstream`, run by the beehive module `module`). `locations` and `messages` are the pure parts."""
