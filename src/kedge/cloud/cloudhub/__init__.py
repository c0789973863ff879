"""CloudHub: the cloud end of the cloud-edge channel (sessions, delivery, join and certificates)."""
