"""Information-flow (``ifm``) and global sampling (``global``) against our closed-form (``cf``).

Neither method has a Python peer, so the yardstick is our own closed-form matting: both papers
report lower errors than closed-form on the alphamatting.com images. For each trimap set of
the alphamatting-dev split, every image is solved by each method in turn (warm: the Numba
compilation happens on the composites of ``warm_up.py`` first), and the script prints per method the mean SAD,
MSE, Grad and Conn over the unknown region and the total wall time with its ratio to cf's.

Usage::

    python benchmarks/ifm_global.py [--data ../shared/data/alphamatting-dev]
        [--methods cf,ifm,global] [--trimaps trimap,trimap2] [--images GT01,GT02]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from mattebox.io import read_alpha, read_image, read_trimap
from mattebox.metrics import all_metrics
from mattebox.registry import get_method
from warm_up import warm_up

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(
    os.environ.get("MATTEBOX_SHARED_DATA", REPO.parent / "shared" / "data")
) / "alphamatting-dev"
METRICS = ("sad", "mse", "grad", "conn")


def run(data: Path, methods: list[str], trimaps: list[str], images: list[str]) -> None:
    warm_up([get_method(name).fn for name in methods])  # JIT time is not timed
    for trimap_set in trimaps:
        scores = {name: {key: [] for key in METRICS} for name in methods}
        seconds = dict.fromkeys(methods, 0.0)
        for stem in images:
            image = read_image(data / "image" / f"{stem}.png")
            truth = read_alpha(data / "alpha" / f"{stem}.png")
            trimap = read_trimap(data / trimap_set / f"{stem}.png")
            line = [f"{trimap_set:8s} {stem}"]
            for name in methods:
                start = time.perf_counter()
                alpha = get_method(name).fn(image, trimap)
                seconds[name] += time.perf_counter() - start
                for key, value in all_metrics(alpha, truth, trimap).items():
                    if key in scores[name]:
                        scores[name][key].append(value)
                line.append(f"{name} SAD {scores[name]['sad'][-1]:6.2f}")
            print("  ".join(line), flush=True)
        reference = seconds.get("cf")
        print(f"\n{trimap_set}: mean over {len(images)} images")
        print(f"{'method':8s} {'SAD':>7s} {'MSE':>9s} {'Grad':>7s} {'Conn':>7s} {'time s':>8s} "
              f"{'/ cf':>6s}")
        for name in methods:
            means = [np.mean(scores[name][key]) for key in METRICS]
            ratio = f"{seconds[name] / reference:6.2f}" if reference else "   n/a"
            print(f"{name:8s} {means[0]:7.3f} {means[1]:9.5f} {means[2]:7.3f} {means[3]:7.3f} "
                  f"{seconds[name]:8.1f} {ratio}")
        print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--methods", default="cf,ifm,global")
    parser.add_argument("--trimaps", default="trimap,trimap2")
    parser.add_argument("--images", default="", help="comma-separated stems (default: all)")
    args = parser.parse_args(argv)
    if not (args.data / "image").is_dir():
        print(f"alphamatting-dev not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    images = args.images.split(",") if args.images else sorted(
        path.stem for path in (args.data / "image").glob("*.png")
    )
    run(args.data, args.methods.split(","), args.trimaps.split(","), images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
