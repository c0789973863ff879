"""`kedge` command line (ARCHITECTURE.md §8). Subcommands import their heavy parts lazily, so
`kedge version` on a small edge device loads nothing it does not print."""

import argparse
import sys
from collections.abc import Sequence

from kedge.cli import completion, ctl, debug, initcmd, join, logsetup


def _cmd_version(args: argparse.Namespace) -> int:
    import kedge
    from kedge._core import channel, router, store, topic
    from kedge.aio.loops import loop_name

    compiled = {m.__name__.rsplit(".", 1)[1]: m.COMPILED for m in (router, channel, store, topic)}
    state = "compiled" if all(compiled.values()) else "pure-python" if not any(compiled.values()) else "mixed"
    print("kedge %s" % kedge.__version__)
    print(
        "core: %s (%s)" % (state, ", ".join("%s=%s" % (k, "c" if v else "py") for k, v in compiled.items()))
    )
    print("python: %s, loop: %s" % (sys.version.split()[0], loop_name()))
    return 0


def _config_command(args: argparse.Namespace, which: str) -> int:
    from kedge import config

    default = config.default_cloudcore if which == "cloudcore" else config.default_edgecore
    loader = config.load_cloudcore if which == "cloudcore" else config.load_edgecore
    if args.defaultconfig:
        sys.stdout.write(config.dump_yaml(default()))
        return 0
    if args.minconfig:
        sys.stdout.write(initcmd.minimal_config_yaml(which))
        return 0
    if args.config and args.check:
        try:
            _, warnings = loader(args.config)
        except config.ConfigError as e:
            print("error: %s" % e, file=sys.stderr)
            return 1
        for w in warnings:
            print("warning: %s" % w, file=sys.stderr)
        print("%s: configuration is valid" % args.config)
        return 0
    return _run_core(args, which, loader, default)


def _run_core(args: argparse.Namespace, which: str, loader, default) -> int:
    """Run cloudcore or edgecore until SIGINT/SIGTERM."""
    from pathlib import Path

    from kedge import config
    from kedge.aio.loops import run

    try:
        if args.config:
            cfg, warnings = loader(args.config)
            for w in warnings:
                print("warning: %s" % w, file=sys.stderr)
        else:
            cfg = default()
    except config.ConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    if which == "cloudcore":
        from kedge.aio.fdlimit import raise_open_files
        from kedge.cloud.app import run_cloudcore

        raise_open_files()
        data_dir = Path(args.data_dir or cfg.data_dir)
        run(run_cloudcore(cfg, data_dir, kubeconfig=args.kubeconfig))
        return 0
    from kedge.edge.app import run_edgecore

    # The edge's budget is resident memory and its loop is never busy: uvloop costs it 2 MB
    # (edge-measurements.md), so edgecore runs on asyncio's loop unless KEDGE_UVLOOP=1.
    run(run_edgecore(cfg), prefer_uvloop=False)
    return 0


def _cmd_apiserver(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kedge.aio.loops import run
    from kedge.cloud.embedded import EmbeddedSettings, parse_listen, start_embedded

    try:
        host, port = parse_listen(args.listen)
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2

    async def serve() -> None:
        import asyncio
        import signal

        from kedge.aio.fdlimit import raise_open_files

        raise_open_files()  # one connection per call in flight from each cloudcore
        server, kubeconfig = await start_embedded(EmbeddedSettings(Path(args.data_dir), host, port))
        from kedge.aio.loops import tune_gc

        tune_gc()  # as cloudcore does: its caches (nodes, pods, leases) are long-lived
        print("kedge API server on %s; kubeconfig: %s" % (server.url, kubeconfig), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()

    run(serve())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kedge.aio.loops import run
    from kedge.cli.demo.run import Demo
    from kedge.cli.demo.run import run as run_demo

    demo = Demo(Path(args.data_dir).absolute(), args.nodes, args.runtime)
    return run(run_demo(demo, exit_after_ready=args.exit_after_ready, ready_timeout=args.ready_timeout))


def _cmd_mapper(args: argparse.Namespace) -> int:
    from kedge.mapper.app import main as mapper_main

    return mapper_main(args.kind, config=args.config, node=args.node, broker=args.broker)


def _add_logging_options(p: argparse.ArgumentParser, top: bool) -> None:
    """The logging options, accepted before or after the subcommand (kubectl's habit). On subcommands
    they default to SUPPRESS, so a value given before the subcommand is not reset by the subparser."""
    default = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        **(default or {"default": 0}),
        help="more logging (-v info, -vv debug)",
    )
    p.add_argument(
        "--log-level", choices=logsetup.LEVELS, **(default or {"default": None}), help="logging level"
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        **(default or {"default": "text"}),
        help="text lines, or one JSON object per line (default text)",
    )


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = []
    for action in p._actions:  # argparse has no public walk over subcommands
        if isinstance(action, argparse._SubParsersAction):
            for sp in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                out.append(sp)
                out.extend(_subparsers(sp))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kedge", description="KubeEdge rebuilt in Python")
    _add_logging_options(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("version", help="print the version and whether the compiled core is loaded").set_defaults(
        func=_cmd_version
    )
    for which in ("cloudcore", "edgecore"):
        sp = sub.add_parser(which, help="run %s" % which)
        sp.add_argument("--config", help="%s.yaml to load" % which)
        sp.add_argument(
            "--defaultconfig", action="store_true", help="print the default configuration and exit"
        )
        sp.add_argument("--check", action="store_true", help="validate --config and exit")
        sp.add_argument(
            "--minconfig", action="store_true", help="print a minimal configuration to edit, and exit"
        )
        if which == "cloudcore":
            sp.add_argument("--data-dir", help="state directory (default: dataDir of the config)")
            sp.add_argument("--kubeconfig", help="use this cluster instead of the embedded API server")
        sp.set_defaults(func=lambda a, w=which: _config_command(a, w))

    ap = sub.add_parser("apiserver", help="run the embedded Kubernetes-compatible API server alone")
    ap.add_argument(
        "--listen", default="127.0.0.1:6443", help="HOST:PORT to serve HTTPS on (default 127.0.0.1:6443)"
    )
    ap.add_argument(
        "--data-dir", default="/var/lib/kedge", help="data directory (writes admin.kubeconfig there)"
    )
    ap.set_defaults(func=_cmd_apiserver)

    join.add_parsers(sub)  # gettoken, join, reset

    ctl.add_parsers(sub)  # ctl get/describe: the edge database, offline
    debug.add_parsers(sub)  # debug check
    completion.add_parsers(sub)  # completion bash|zsh
    initcmd.add_parsers(sub)  # init

    mp = sub.add_parser(
        "mapper",
        help="run a device mapper next to edgecore (virtual counter or Modbus TCP)",
        description="Serve the node's devices of one protocol over the edge's MQTT broker: report their "
        "properties as twins and apply the desired values the cloud sets.",
    )
    mp.add_argument(
        "kind",
        choices=("counter", "modbus"),
        help="counter: KubeEdge's virtual counter demo; modbus: Modbus TCP devices",
    )
    mp.add_argument("--config", help="mapper YAML (node, broker, protocol, tls, username, password)")
    mp.add_argument("--node", help="edge node whose devices to serve (overrides node: in --config)")
    mp.add_argument("--broker", help="MQTT broker URL, default tcp://127.0.0.1:1884 (overrides --config)")
    mp.set_defaults(func=_cmd_mapper)

    dp = sub.add_parser(
        "demo",
        help="run cloud and edge on this host: API server, cloudcore, two edgecores, a device, a rule",
        description="Start the embedded API server and cloudcore (router on), join edge nodes with tokens "
        "and start their edgecores, apply a pod per node, KubeEdge's counter device with its virtual mapper "
        "and a rest→eventbus rule, then show a live status view and the kubectl commands to try. "
        "Ctrl-C stops everything.",
    )
    dp.add_argument(
        "--data-dir",
        default="kedge-demo",
        help="state and logs, emptied at start if a previous demo made it (default ./%(default)s)",
    )
    dp.add_argument(
        "--nodes", type=int, choices=range(1, 10), default=2, metavar="N", help="edge nodes (1-9, default 2)"
    )
    dp.add_argument(
        "--runtime",
        choices=("auto", "process", "cri"),
        default="auto",
        help="pod runtime: auto (containerd when it can run the demo image, else processes; default)",
    )
    dp.add_argument(
        "--exit-after-ready", action="store_true", help="stop everything once the ready view shows"
    )
    dp.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds to wait for the ready view (default 180)"
    )
    dp.set_defaults(func=_cmd_demo)

    for sp in _subparsers(p):
        _add_logging_options(sp, top=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logsetup.configure(logsetup.level_for(args.log_level, args.verbose), args.log_format)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
