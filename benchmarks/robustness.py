"""Every method on photos it has never seen: does it finish, stay valid, and agree with the others?

The 8 alphamatting.com test photos of ``../shared/data/alphamatting-test-nogt`` (their ground
truth is withheld by the benchmark, so no accuracy can be computed) with each of their three
trimaps (small, large and the benchmark's user trimap), every registered trimap method, through
the whole public path a user takes: :func:`mattebox.matte` reading the files, estimating alpha
and foreground colours, compositing over a colour and writing ``alpha.png``, ``cutout.png`` and
``composite.png``. Per method it reports:

- ``ok``: runs that finished with a valid result: every written file readable, alpha finite and
  in [0, 1], equal to the trimap on its known pixels, and the cut-out's alpha channel the
  matte's (to 8 bits);
- seconds per run (mean and maximum), after the shared warm-up composites have taken every
  method through its compiled paths and loaded its weights;
- ``dev``: the mean absolute difference, over the unknown pixels, between the method's matte and
  the per-pixel median of all methods' mattes of the same photo and trimap. Not an error (the
  median is no ground truth); a method far from the others on one photo is worth a look, and
  the worst photo is named.

    python benchmarks/robustness.py [--methods sm,cf,...] [--trimaps trimap,trimap2,trimap3]
                                    [--sheet docs/robustness_sheet.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

import mattebox
from mattebox import io
from mattebox.registry import get_method, list_methods
from warm_up import warm_up

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting-test-nogt"


def default_methods() -> list[str]:
    return [spec.name for spec in list_methods() if spec.needs == "trimap"]


def check_outputs(folder: Path, alpha: np.ndarray, trimap: np.ndarray) -> str | None:
    """Why the run's result is not valid, or None."""
    if not np.all(np.isfinite(alpha)):
        return "alpha has non-finite values"
    if alpha.min() < 0.0 or alpha.max() > 1.0:
        return f"alpha outside [0, 1] ({alpha.min():.3g} .. {alpha.max():.3g})"
    known = trimap != 0.5
    if np.any(np.abs(alpha[known] - trimap[known]) > 1e-6):
        return "alpha differs from the trimap on known pixels"
    written = io.read_alpha(folder / "alpha.png")
    if written.shape != alpha.shape or np.abs(written - alpha).max() > 1.0 / 255 + 1e-6:
        return "alpha.png does not hold the matte"
    from PIL import Image

    with Image.open(folder / "cutout.png") as cutout:
        if cutout.mode != "RGBA" or cutout.size != alpha.shape[::-1]:
            return f"cutout.png is {cutout.mode} {cutout.size}, not RGBA of the photo's size"
        channel = np.asarray(cutout)[..., 3].astype(np.float64) / 255.0
    if np.abs(channel - alpha).max() > 1.0 / 255 + 1e-6:
        return "cutout.png's alpha channel is not the matte"
    with Image.open(folder / "composite.png") as composite:
        if composite.size != alpha.shape[::-1]:
            return "composite.png has the wrong size"
    return None


def sheet(results: dict, names: list[str], methods: list[str], trimap_name: str, path: Path) -> None:
    """One row per photo, one column per method: the mattes under ``trimap_name``, downscaled."""
    from PIL import Image, ImageDraw

    cell_w = 160
    rows = []
    for name in names:
        mattes = results.get((name, trimap_name), {})
        if not mattes:
            continue
        height = int(round(next(iter(mattes.values())).shape[0] * cell_w / next(iter(mattes.values())).shape[1]))
        row = Image.new("L", (cell_w * len(methods), height), 40)
        for column, method in enumerate(methods):
            if method in mattes:
                tile = Image.fromarray(np.round(mattes[method] * 255).astype(np.uint8)).resize((cell_w, height), Image.BILINEAR)
                row.paste(tile, (column * cell_w, 0))
        rows.append(row)
    if not rows:
        return
    header = 18
    out = Image.new("L", (rows[0].width, header + sum(r.height for r in rows)), 255)
    draw = ImageDraw.Draw(out)
    for column, method in enumerate(methods):
        draw.text((column * cell_w + 4, 3), method, fill=0)
    y = header
    for row in rows:
        out.paste(row, (0, y))
        y += row.height
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(path, np.repeat(np.asarray(out, dtype=np.float64)[..., None] / 255.0, 3, axis=2))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--methods", default=None, help="comma-separated (default: every trimap method)")
    parser.add_argument("--trimaps", default="trimap,trimap2,trimap3")
    parser.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    parser.add_argument("--sheet", default="", help="PNG of the mattes under the first trimap ('' for none)")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not (data / "image").is_dir():
        print(f"no photos at {data}/image; pass --data", file=sys.stderr)
        return 2
    methods = [get_method(m).name for m in args.methods.split(",")] if args.methods else default_methods()
    trimaps = args.trimaps.split(",")
    names = sorted(p.stem for p in (data / "image").glob("*.png"))
    if args.limit:
        names = names[: args.limit]
    # every compiled path of every method first (benchmarks/warm_up.py), through the same call
    warm_up([lambda image, trimap, m=m: mattebox.matte(image, trimap, method=m, background="#00b140")
             for m in methods])

    runs: dict[str, list[dict]] = {m: [] for m in methods}
    mattes: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            for trimap_name in trimaps:
                trimap_path = data / trimap_name / f"{name}.png"
                if not trimap_path.is_file():
                    continue
                trimap = io.read_trimap(trimap_path)
                for method in methods:
                    folder = Path(scratch) / f"{name}_{trimap_name}_{method}"
                    start = time.perf_counter()
                    try:
                        result = mattebox.matte(data / "image" / f"{name}.png", trimap_path, method=method,
                                                background="#00b140", output_dir=folder)
                        seconds = time.perf_counter() - start
                        problem = check_outputs(folder, result.alpha, trimap)
                    except Exception as exc:  # a crash is a finding, not the end of the run
                        seconds = time.perf_counter() - start
                        problem = f"{type(exc).__name__}: {exc}"
                        traceback.print_exc()
                        result = None
                    runs[method].append({"photo": name, "trimap": trimap_name, "seconds": seconds,
                                         "problem": problem})
                    if problem is None:
                        mattes.setdefault((name, trimap_name), {})[method] = result.alpha
                    print(f"{name:11s} {trimap_name:8s} {method:6s} {seconds:7.2f} s  {problem or 'ok'}",
                          flush=True)

    for (name, trimap_name), by_method in mattes.items():
        unknown = io.read_trimap(data / trimap_name / f"{name}.png") == 0.5
        median = np.median(np.stack([a[unknown] for a in by_method.values()]), axis=0)
        for method, alpha in by_method.items():
            for run in runs[method]:
                if run["photo"] == name and run["trimap"] == trimap_name:
                    run["deviation"] = float(np.abs(alpha[unknown] - median).mean())

    print(f"\n{len(names)} photos x {len(trimaps)} trimaps; dev = mean |alpha - median of all methods| "
          "over the unknown pixels (not an error: there is no ground truth)")
    print(f"{'method':8s} {'ok':>7s} {'mean s':>8s} {'max s':>8s} {'dev':>7s}  worst photo (dev)")
    for method in methods:
        done = [r for r in runs[method] if r["problem"] is None]
        seconds = [r["seconds"] for r in runs[method]]
        deviations = [r for r in done if "deviation" in r]
        worst = max(deviations, key=lambda r: r["deviation"]) if deviations else None
        mean_dev = np.mean([r["deviation"] for r in deviations]) if deviations else float("nan")
        worst_text = f"{worst['photo']}/{worst['trimap']} ({worst['deviation']:.3f})" if worst else "-"
        print(f"{method:8s} {len(done):3d}/{len(runs[method]):<3d} {np.mean(seconds):8.2f} {np.max(seconds):8.2f} "
              f"{mean_dev:7.3f}  {worst_text}")
    failed = [(m, r) for m in methods for r in runs[m] if r["problem"] is not None]
    for method, run in failed:
        print(f"FAILED {method} on {run['photo']}/{run['trimap']}: {run['problem']}")
    if args.sheet:
        sheet(mattes, names, methods, trimaps[0], Path(args.sheet))
        print(f"wrote {args.sheet}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
