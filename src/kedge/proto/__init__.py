"""Sans-IO hub protocol: framing, delivery windows, resend timers, keepalive; time is passed in as `now`."""
