"""Time and peak memory of the propagation solvers on camera-sized photos (4K, 8K).

A real photo of alphamatting-dev (default GT04, troll hair) and its ground-truth alpha are
upscaled (bicubic) to the target size, and a band trimap is cut around the upscaled alpha's
edge, its width chosen so that about ``--unknown`` (default 15 %) of the pixels are unknown.
Without the data folder a synthetic soft-edged disc is used instead. Each method then runs
in its own fresh process, so that the peak resident memory (ru_maxrss) is that method's
alone; the SAD against the upscaled alpha is printed as a sanity check.

Usage::

    python benchmarks/large_images.py [--sizes 4k,8k] [--methods cf,knn,lbdm]
        [--only-8k cf] [--unknown 0.15] [--data ../shared/data/alphamatting-dev]

A method may carry options after colons: ``sm:refine=laplacian``; ``ifm:preview=0.25`` runs
it through :func:`mattebox.solvers.preview.estimate_alpha_preview` at that scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from method_entries import entry_solver, split_entry
from warm_up import warm_up

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MATTEBOX_SHARED_DATA", REPO.parent / "shared" / "data")) / "alphamatting-dev"
SIZES = {"2k": (1080, 1920), "4k": (2160, 3840), "8k": (4320, 7680)}


def band_trimap(alpha: np.ndarray, fraction: float) -> np.ndarray:
    """Trimap with an unknown band around the alpha = 0.5 edge covering ~``fraction`` of pixels."""
    from scipy import ndimage

    inside = alpha > 0.5
    distance = np.where(inside, ndimage.distance_transform_edt(inside),
                        ndimage.distance_transform_edt(~inside))
    cut = np.quantile(distance, fraction)
    trimap = inside.astype(np.float64)
    trimap[distance <= cut] = 0.5
    return trimap


def make_problem(data: Path, stem: str, size: tuple[int, int], fraction: float):
    """(image, alpha, trimap) at ``size`` (height, width)."""
    import cv2

    height, width = size
    if (data / "image" / f"{stem}.png").is_file():
        from mattebox.io import read_alpha, read_image

        image = read_image(data / "image" / f"{stem}.png")
        alpha = read_alpha(data / "alpha" / f"{stem}.png")
        image = np.clip(cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
        alpha = np.clip(cv2.resize(alpha, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
    else:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        distance = np.hypot(yy - height / 2, xx - width / 2)
        alpha = np.clip((0.3 * height + 20 - distance) / 40.0, 0, 1).astype(np.float64)
        fg = np.stack([0.9 + 0 * xx, 0.3 + 0.2 * np.sin(yy / 40), 0.2 + 0 * xx], axis=-1)
        bg = np.stack([0.1 + 0 * xx, 0.3 + 0.4 * xx / width, 0.8 - 0.3 * yy / height], axis=-1)
        image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return image.astype(np.float64), alpha.astype(np.float64), band_trimap(alpha, fraction)


def worker(method: str, problem: Path) -> None:
    """Run one method on a saved problem; print one JSON line with seconds and peak memory."""
    from mattebox.metrics import sad
    from mattebox.registry import get_method

    arrays = np.load(problem)
    image, alpha, trimap = arrays["image"], arrays["alpha"], arrays["trimap"]
    name, _ = split_entry(method)
    warm_up([get_method(name).fn])  # compile every path first (benchmarks/warm_up.py)
    fn = entry_solver(method)  # dim:refine=laplacian, ifm:preview=0.25 (solved at 1/4 size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    estimate = fn(image, trimap)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"method": method, "seconds": seconds, "peak_gib": peak / 2**20,
                      "peak_before_gib": before / 2**20, "sad": sad(estimate, alpha, trimap)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4k,8k")
    parser.add_argument("--methods", default="cf,knn,lbdm",
                        help="methods run at 4K; NAME:KEY=VALUE passes a string option")
    parser.add_argument("--only-8k", default="cf", help="methods run at 8K")
    parser.add_argument("--unknown", type=float, default=0.15, help="fraction of unknown pixels")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--image", default="GT04")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PROBLEM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0
    print("$ python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size_name in args.sizes.split(","):
            methods = (args.methods if size_name != "8k" else args.only_8k).split(",")
            image, alpha, trimap = make_problem(args.data, args.image, SIZES[size_name], args.unknown)
            problem = Path(folder) / f"{size_name}.npz"
            np.savez(problem, image=image, alpha=alpha, trimap=trimap)
            share = float((trimap == 0.5).mean())
            print(f"# {size_name}: {image.shape[1]}x{image.shape[0]}, {100 * share:.1f}% unknown "
                  f"({int((trimap == 0.5).sum())} pixels)", flush=True)
            del image, alpha, trimap
            for method in methods:
                done = subprocess.run([sys.executable, __file__, "--worker", method, str(problem)],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{size_name} {method}: FAILED (exit {done.returncode})\n{done.stderr[-2000:]}", flush=True)
                    rows.append((size_name, method, None))
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append((size_name, method, result))
                print(f"{size_name:3s} {method:5s} {result['seconds']:8.1f} s  peak {result['peak_gib']:6.2f} GiB"
                      f"  SAD {result['sad']:9.1f}", flush=True)
    print("\nsize method  seconds  peak GiB")
    for size_name, method, result in rows:
        if result is None:
            print(f"{size_name:4s} {method:6s}   failed")
        else:
            print(f"{size_name:4s} {method:6s} {result['seconds']:8.1f} {result['peak_gib']:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
