"""Container runtimes Edged drives: `cri` speaks CRI v1 to containerd over its unix socket."""
