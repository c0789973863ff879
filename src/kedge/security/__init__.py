"""Security for kedge: certificates and TLS (pki), later join tokens and node authorization.

Sits beside kedge.apiserver and kedge.transport in the layering: callers hand the resulting files or
ssl contexts to the servers; nothing here imports them.
"""
