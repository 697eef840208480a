"""The shipped DIM model beside closed-form matting on the same images.

Sets: alphamatting-dev with both trimaps (``../shared/data/alphamatting-dev``) and the first
composite of each of the first N foregrounds of the seeded synthetic test set (made with
:func:`mattebox.data.composition.ensure_test_set` if missing). Prints mean SAD / MSE / Grad /
Conn (unknown region) per set and trimap, where the error lies (mean |alpha - true alpha| over
the unknown pixels whose true alpha is pure, 0 or 1 within 0.02, and over the fractional ones;
the share of pure ones off by more than 0.25), and optionally writes them as JSON.

Usage::

    python benchmarks/dim_vs_cf.py [--weights PATH] [--synthetic-dir runs/synthetic_test]
        [--synthetic-count 20] [--methods dim,cf] [--dim-scales 1,0.5]
        [--norm-stats weights,running,image] [--dim-refine none,laplacian] [--dim-flip 0,1]
        [--json out.json]

``--methods`` takes registered methods and ``hints``: the alpha the known-colour hints imply
alone (:func:`mattebox.models.colour_hints.hint_alpha`), what a DIM with ``colour_hints`` is
told before it learns anything; ``hints+laplacian`` refines that alpha as ``--dim-refine
laplacian`` refines the network's (:mod:`mattebox.solvers.prior_refine`), the control for
what the network adds once refined.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from mattebox import metrics
from mattebox.models.dim.training import PURE  # within this of 0 or 1: a pure true alpha
from mattebox.registry import get_method
from mattebox.train.config import shared_data_dir
from mattebox.train.dataset import load_eval_folder

METRICS = ("sad", "mse", "grad", "conn")




def score(method: str, cases, options: dict) -> dict[str, dict[str, float]]:
    """Per trimap folder: the mean of each metric over the cases, the mean seconds, and the
    error split: mean |alpha - true alpha| over the unknown pixels whose true alpha is pure
    (``err_pure``) and over the fractional ones (``err_frac``), pooled over the cases, and the
    share of pure unknown pixels off by more than 0.25 (``pure_wrong``); and each case's SAD
    (``sad_per_case``, in the JSON only)."""
    if method == "hints":
        from mattebox.models.colour_hints import hint_alpha

        fn = lambda image, trimap, **_: hint_alpha(image, trimap)  # noqa: E731
    elif method == "hints+laplacian":
        from mattebox.models.colour_hints import hint_alpha
        from mattebox.solvers.prior_refine import refine_alpha_laplacian

        fn = lambda image, trimap, **_: refine_alpha_laplacian(  # noqa: E731
            image, trimap, hint_alpha(image, trimap))
    else:
        fn = get_method(method).fn
    groups: dict[str, list[dict]] = {}
    for case in cases:
        began = time.perf_counter()
        pred = fn(case.image, case.trimap, **options)
        row = metrics.all_metrics(pred, case.alpha, case.trimap)
        row["seconds"] = time.perf_counter() - began
        row["case"] = case.name
        unknown = case.trimap == 0.5
        pure = unknown & ((case.alpha < PURE) | (case.alpha > 1.0 - PURE))
        error = np.abs(pred - case.alpha)
        row["split"] = (error[pure].sum(), pure.sum(), error[unknown & ~pure].sum(), (unknown & ~pure).sum(),
                        (error[pure] > 0.25).sum())
        groups.setdefault(case.name.split("/")[-1], []).append(row)
    out = {}
    for name, rows in groups.items():
        means = {m: float(np.mean([r[m] for r in rows])) for m in (*METRICS, "seconds")}
        pure_sum, pure_n, frac_sum, frac_n, wrong = np.sum([r["split"] for r in rows], axis=0)
        means.update(err_pure=float(pure_sum / max(pure_n, 1)), err_frac=float(frac_sum / max(frac_n, 1)),
                     pure_wrong=float(wrong / max(pure_n, 1)))
        means["sad_per_case"] = {r["case"]: float(r["sad"]) for r in rows}
        out[name] = means
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="DIM weights (default: the shipped dim_small.pt)")
    parser.add_argument("--synthetic-dir", default="runs/synthetic_test")
    parser.add_argument("--synthetic-count", type=int, default=20)
    parser.add_argument("--methods", default="dim,cf")
    parser.add_argument("--dim-scales", default="1",
                        help="comma list of DIM inference scales (the network runs on a copy "
                             "shrunk by each; see estimate_alpha_dim)")
    parser.add_argument("--norm-stats", default="weights",
                        help="comma list of DIM batch-norm statistics: weights (what the weights "
                             "file names, the default of estimate_alpha_dim), running (training's) "
                             "and/or image (the image's own)")
    parser.add_argument("--dim-refine", default="none",
                        help="comma list of DIM refinements: none (the network alone) and/or "
                             "laplacian (refined by the matting Laplacian, estimate_alpha_dim's "
                             "refine=)")
    parser.add_argument("--dim-flip", default="0",
                        help="comma list: 0 (one pass) and/or 1 (averaged with the mirrored "
                             "image's matte, estimate_alpha_dim's flip=)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    sets = {}
    dev = shared_data_dir() / "alphamatting-dev"
    if (dev / "image").is_dir():
        sets["alphamatting-dev"] = load_eval_folder(dev, ("trimap", "trimap2"))
    if args.synthetic_count > 0:
        from mattebox.data.composition import ensure_test_set

        folder = ensure_test_set(args.synthetic_dir)
        sets["synthetic"] = load_eval_folder(folder, ("trimap",), args.synthetic_count, "_0")
    results: dict = {}
    runs = []
    for method in args.methods.split(","):
        if method != "dim":
            runs.append((method, method, {}))
            continue
        for stats in args.norm_stats.split(","):
            for scale in (float(v) for v in args.dim_scales.split(",")):
                for refine in args.dim_refine.split(","):
                    for flip in (bool(int(v)) for v in args.dim_flip.split(",")):
                        options = {"scale": scale, "refine": refine, "flip": flip,
                                   "norm_stats": None if stats == "weights" else stats,
                                   **({"weights": args.weights} if args.weights else {})}
                        label = (("dim" if scale == 1.0 else f"dim@{scale:g}")
                                 + ("" if stats == "weights" else f"/{stats}")
                                 + ("+flip" if flip else "")
                                 + ("" if refine == "none" else f"+{refine}"))
                        runs.append((label, method, options))
    for label, method, options in runs:
        for set_name, cases in sets.items():
            for trimap, means in score(method, cases, options).items():
                results.setdefault(label, {})[f"{set_name}/{trimap}"] = means
                print(f"{label:10s} {set_name + '/' + trimap:26s} " +
                      "  ".join(f"{m} {means[m]:8.4f}" for m in (*METRICS, "seconds")) +
                      f"  | err pure {means['err_pure']:.3f} frac {means['err_frac']:.3f}"
                      f" pure>0.25 {means['pure_wrong']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
