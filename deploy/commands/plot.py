"""`vtrax plot RUN_DIR [RUN_DIR ...] -o curve.png`: learning curves of runs as a picture.

Runs whose configs differ only in the seed are drawn as one band (median and
min-max over seeds) against env frames and against wall time.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="Run directories written by `vtrax train`.")
    parser.add_argument("-o", "--output", default="curve.png", help="PNG file to write (default: curve.png).")
    parser.add_argument("--title", default="", help="Title above the two panels.")


def run(args: argparse.Namespace) -> int:
    from vtrax.deploy.bench.curves import CurveError, group_runs, read_run
    from vtrax.deploy.bench.plot_curves import draw

    try:
        curves = [read_run(run_dir) for run_dir in args.run_dirs]
    except CurveError as error:
        print(f"vtrax plot: {error}", file=sys.stderr)
        return 2
    groups = group_runs(curves)
    try:
        path = draw(groups, args.output, title=args.title)
    except OSError as error:
        print(f"vtrax plot: cannot write {args.output} ({error.strerror}); pass -o with a writable path",
              file=sys.stderr)
        return 2
    bands = ", ".join(f"{label} ({len(runs)} run{'s' if len(runs) != 1 else ''})" for label, runs in groups.items())
    print(f"vtrax plot: wrote {path}: {bands}")
    return 0
