"""MetaManager: the edge's copy of the cloud objects it needs (pods, configmaps, secrets, devices...),
kept in SQLite so edgecore can run and answer queries offline and after a reboot."""
