"""The scale curve: the density test at several node counts, one results file and its plots.

    python -m bench.scale.curve [--nodes 1000,5000,10000] [--pod-rate 100] [--pods-per-node 10]
        [--out bench/results/scale.json] [any bench.scale.density option]

Each point is a fresh cluster (API server, cloudcore, simulators) so that one point's state does not
weigh on the next; hollow-node identities are kept in --state-dir between points and runs, so the joins
are paid once. A point that fails is recorded with its error and the curve goes on: where it breaks is
a result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.scale import density
from bench.scale import results as res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale.curve", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", default="1000,5000,10000", help="comma-separated node counts")
    p.add_argument("--pods-per-node", type=int, default=10)
    p.add_argument("--out", default="bench/results/scale.json")
    p.add_argument("--plots", default=None, help="directory for the PNGs (default: next to --out)")
    known, rest = p.parse_known_args(argv)
    density.stop_on_sigterm()
    counts = [int(n) for n in known.nodes.split(",") if n.strip()]
    out = Path(known.out)
    result = res.new_results()
    result["runs"] = []
    from kedge.aio.loops import run as run_loop

    for n in counts:
        a = density.parser().parse_args(
            [
                "--nodes",
                str(n),
                "--pods",
                str(n * known.pods_per_node),
                "--state-dir",
                _state_dir(rest),
                *rest,
            ]
        )
        print("== scale point: %d nodes, %d pods" % (n, a.pods), file=sys.stderr)
        try:
            result["runs"].append(run_loop(density.run(a)))
        except Exception as e:  # a point that breaks is the curve's answer, not the end of it
            print("   failed: %s" % e, file=sys.stderr)
            result["runs"].append({"nodes": n, "pods": a.pods, "pod_rate": a.pod_rate, "error": str(e)})
        result["summary"] = res.summary(result["runs"])
        res.write_results(out, result)  # after each point: a long curve keeps what it measured
    from bench.scale import plots

    for path in plots.plot_curve(result, Path(known.plots) if known.plots else out.parent):
        print("plot: %s" % path, file=sys.stderr)
    print(res.summary_table(result["runs"]), file=sys.stderr)
    print("results: %s" % out, file=sys.stderr)
    return 0


def _state_dir(rest: list[str]) -> str:
    """--state-dir from the density options, or bench/results/.identities."""
    if "--state-dir" in rest:
        return rest[rest.index("--state-dir") + 1]
    return "bench/results/.identities"


if __name__ == "__main__":
    raise SystemExit(main())
