"""EdgeHub: the edge end of the cloud-edge channel (connect, reconnect, keepalive, outbox, certificates)."""
