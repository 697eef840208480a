"""Shared matting (``sm``): our solver against pymatting 1.1.16's ``estimate_alpha_sm``.

Two measurements, ours and pymatting side by side in one run (so that both see the same load):

1. The active-matting case of issue 3: 400 x 400 images with a 30% unknown band. Each
   alphamatting-dev image is centre-cropped to a square and resized to 400 x 400; the band is
   every pixel within a distance r of the ground truth's fractional pixels, r chosen so that
   30% of the image is unknown. Both solvers are warmed up (JIT excluded), then called
   alternately ``--repeats`` times; we print min and median wall time per call.
2. The alphamatting-dev split at its stored size, both trimap sets: mean SAD and MSE over the
   unknown region (the metrics of :mod:`mattebox.metrics`) and the total wall time of one warm
   call per image.

Usage::

    python benchmarks/sm_speed.py [--data ../shared/data/alphamatting-dev] [--repeats 7]
        [--images GT01,GT02] [--skip-dev]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from mattebox.io import read_alpha, read_image, read_trimap
from mattebox.metrics import mse, sad
from mattebox.registry import get_method

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(
    os.environ.get("MATTEBOX_SHARED_DATA", REPO.parent / "shared" / "data")
) / "alphamatting-dev"
BAND_FRACTION = 0.30
SIZE = 400


def band_case(image: np.ndarray, gt: np.ndarray, size: int = SIZE, fraction: float = BAND_FRACTION):
    """(image, trimap, gt) at size x size with ``fraction`` of the pixels unknown."""
    import cv2
    from scipy import ndimage

    height, width = gt.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = (slice(top, top + side), slice(left, left + side))
    image = np.clip(cv2.resize(image[crop], (size, size), interpolation=cv2.INTER_AREA), 0, 1)
    gt = np.clip(cv2.resize(gt[crop], (size, size), interpolation=cv2.INTER_AREA), 0, 1)
    fractional = (gt > 0.02) & (gt < 0.98)
    distance = ndimage.distance_transform_edt(~fractional)
    trimap = np.where(gt > 0.5, 1.0, 0.0)
    trimap[distance <= np.quantile(distance, fraction)] = 0.5
    return image, trimap, gt


def timed(fn, *args) -> tuple[float, float, np.ndarray]:
    """(wall seconds, process CPU seconds, result) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=7, help="calls per solver per 400x400 image")
    parser.add_argument("--images", default="", help="comma-separated names (default: all)")
    parser.add_argument("--skip-dev", action="store_true", help="only the 400x400 timings")
    args = parser.parse_args(argv)

    print("$ python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    try:
        from pymatting import estimate_alpha_sm as peer
        import pymatting
    except ImportError:
        print("pymatting is not installed: pip install pymatting==1.1.16")
        return 2
    if not (args.data / "image").is_dir():
        print(f"no alphamatting-dev data at {args.data}; pass --data")
        return 2
    import numba

    ours = get_method("sm").fn
    names = [n for n in args.images.split(",") if n] or sorted(
        p.stem for p in (args.data / "image").glob("*.png")
    )
    print(f"pymatting {pymatting.__version__}, numba {numba.__version__} with "
          f"{numba.config.NUMBA_NUM_THREADS} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")

    print(f"\n== {SIZE}x{SIZE}, {BAND_FRACTION:.0%} unknown band: ms per call (wall: elapsed; cpu: "
          f"process CPU time, all threads; 1thr: ours on one thread), {args.repeats} alternating "
          "calls each after warm-up ==")
    print(f"{'image':6s} {'unknown':>7s} | {'ours min':>8s} {'med':>6s} {'cpu':>6s} {'1thr':>6s} | "
          f"{'pm min':>7s} {'med':>6s} {'cpu':>6s} | {'ratio med':>9s} {'cpu':>5s} | "
          f"{'SAD ours':>8s} {'pm':>5s}")
    all_ours, all_peer, all_single, cpu_ours, cpu_peer = [], [], [], [], []
    threads = numba.get_num_threads()
    for name in names:
        image, trimap, gt = band_case(read_image(args.data / "image" / f"{name}.png"),
                                      read_alpha(args.data / "alpha" / f"{name}.png"))
        a_ours, a_peer = ours(image, trimap), peer(image, trimap)  # warm-up (JIT)
        t_ours, t_peer, c_ours, c_peer, t_single = [], [], [], [], []
        for _ in range(args.repeats):
            dt, dc, a_ours = timed(ours, image, trimap)
            t_ours.append(dt)
            c_ours.append(dc)
            dt, dc, a_peer = timed(peer, image, trimap)
            t_peer.append(dt)
            c_peer.append(dc)
            numba.set_num_threads(1)
            t_single.append(timed(ours, image, trimap)[0])
            numba.set_num_threads(threads)
        all_ours += t_ours
        all_peer += t_peer
        all_single += t_single
        cpu_ours += c_ours
        cpu_peer += c_peer
        print(f"{name:6s} {np.mean(trimap == 0.5):7.1%} | {1e3 * min(t_ours):8.1f} "
              f"{1e3 * np.median(t_ours):6.1f} {1e3 * min(c_ours):6.1f} "
              f"{1e3 * min(t_single):6.1f} | "
              f"{1e3 * min(t_peer):7.1f} {1e3 * np.median(t_peer):6.1f} {1e3 * min(c_peer):6.1f} | "
              f"{np.median(t_ours) / np.median(t_peer):9.3f} {min(c_ours) / min(c_peer):5.3f} | "
              f"{sad(a_ours, gt, trimap):8.2f} {sad(a_peer, gt, trimap):5.2f}")
    print(f"{'all':6s} {'':7s} | {1e3 * min(all_ours):8.1f} {1e3 * np.median(all_ours):6.1f} "
          f"{1e3 * min(cpu_ours):6.1f} {1e3 * min(all_single):6.1f} | {1e3 * min(all_peer):7.1f} "
          f"{1e3 * np.median(all_peer):6.1f} {1e3 * min(cpu_peer):6.1f} | "
          f"{np.median(all_ours) / np.median(all_peer):9.3f} "
          f"{np.median(cpu_ours) / np.median(cpu_peer):5.3f} |")
    print(f"medians over all calls: ours {1e3 * np.median(all_ours):.1f} ms wall, "
          f"{1e3 * np.median(cpu_ours):.1f} ms cpu, {1e3 * np.median(all_single):.1f} ms on one "
          f"thread; pymatting {1e3 * np.median(all_peer):.1f} ms wall, "
          f"{1e3 * np.median(cpu_peer):.1f} ms cpu")

    print(f"load average {os.getloadavg()[0]:.1f}, numba threading layer {numba.threading_layer()}")
    if args.skip_dev:
        return 0
    # sm builds nearest-pixel maps only when most of a trimap is unknown, a path the band
    # cases above do not take: compile it too before timing the dev images.
    mostly_unknown = np.full_like(trimap, 0.5)
    mostly_unknown[:SIZE // 10] = 0.0
    mostly_unknown[-SIZE // 10:] = 1.0
    ours(image, mostly_unknown)
    peer(image, mostly_unknown)
    print("\n== alphamatting-dev at stored size: one call per image and solver (warm: both were"
          " compiled above) ==")
    for trimap_set in ("trimap", "trimap2"):
        rows = []
        for name in names:
            image = read_image(args.data / "image" / f"{name}.png")
            gt = read_alpha(args.data / "alpha" / f"{name}.png")
            trimap = read_trimap(args.data / trimap_set / f"{name}.png")
            t_ours, _, a_ours = timed(ours, image, trimap)
            t_peer, _, a_peer = timed(peer, image, trimap)
            rows.append((name, sad(a_ours, gt, trimap), sad(a_peer, gt, trimap),
                         mse(a_ours, gt, trimap), mse(a_peer, gt, trimap), t_ours, t_peer))
            print(f"{trimap_set:8s} {name:6s} SAD {rows[-1][1]:7.2f} vs {rows[-1][2]:7.2f}  "
                  f"MSE {rows[-1][3]:.5f} vs {rows[-1][4]:.5f}  time {t_ours:6.3f} s vs "
                  f"{t_peer:6.3f} s", flush=True)
        table = np.array([r[1:] for r in rows])
        s_o, s_p, m_o, m_p, t_o, t_p = table.mean(axis=0)
        print(f"{trimap_set:8s} mean   SAD {s_o:7.3f} vs {s_p:7.3f} "
              f"({100 * (s_o / s_p - 1):+.1f}%)  "
              f"MSE {m_o:.5f} vs {m_p:.5f} ({100 * (m_o / m_p - 1):+.1f}%)  "
              f"total time {table[:, 4].sum():6.2f} s vs {table[:, 5].sum():6.2f} s "
              f"(ratio {table[:, 4].sum() / table[:, 5].sum():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
