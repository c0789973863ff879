"""Router: rules.kubeedge.io Rules between REST, edge MQTT topics and edge HTTP services."""
