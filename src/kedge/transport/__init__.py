"""The only socket code between cloud and edge: WebSocket and QUIC lanes behind one `Link` contract."""
