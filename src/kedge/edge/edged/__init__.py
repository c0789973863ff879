"""Edged: the kubelet part of edgecore; runs the node's pods through a container runtime."""
