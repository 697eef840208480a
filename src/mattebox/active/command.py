"""``mattebox active``: active matting at a terminal, or automated with a ground-truth oracle.

A person: ``mattebox active photo.jpg`` writes a preview PNG (the photo with the suggested
region boxed, beside the current matte) and asks f(oreground) / b(ackground) / s(kip) /
u(ndo) / q(uit) for each region, or p(aint) to draw a stroke where a region is too coarse
(the label, then x,y points in the photo's pixels, and optionally the brush radius: ``fg
120,40 131,62 140,90 r=4``); the final matte is written at the photo's resolution.

Automated: ``mattebox active photo.jpg --oracle alpha.png --steps 20 --json`` answers from the
ground truth and prints one JSON line per step: ``step``, ``region`` ([top, left, height,
width] in the 400 x 400 work image), ``box`` ([x0, y0, x1, y1] in the photo's pixels),
``answer``, ``rmse`` (Eq. 2 at the work size) and ``seconds`` (suggestion + solver update).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from .environment import get_solver, solve_matte
from .session import MAX_WORK_SIZE, POLICIES

KEYS = {"f": "fg", "b": "bg", "s": "skip"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mattebox active``."""
    parser.add_argument("image", help="the photo to matte")
    parser.add_argument("--oracle", metavar="ALPHA", help="ground-truth alpha: answer automatically")
    parser.add_argument("--steps", type=int, default=None,
                        help="number of regions to ask about (default: 20 with --oracle, "
                             "until q interactively)")
    parser.add_argument("--policy", choices=POLICIES, default="learned",
                        help="who suggests regions: the learned policy (default) or a baseline "
                             "(ideal needs --oracle)")
    parser.add_argument("--solver", default="sm", help="registered trimap method solving the matte (default sm)")
    parser.add_argument("--weights", help="policy weights file (default: the shipped small policy)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --policy random")
    parser.add_argument("--stride", type=int, default=20,
                        help="grid stride of --policy ideal in pixels of the work image (default "
                             "20, the benchmark's B1: about 20 s per step on two cores; 10 "
                             "searches four times as many regions)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for --policy ideal (default: one per CPU)")
    parser.add_argument("--search-size", type=int, default=None,
                        help="--policy ideal searches on a copy shrunk to this side, stride and "
                             "regions shrunk with it: faster, but its regions help less at the "
                             "work size (default: search at the work size, as the benchmark's B1)")
    parser.add_argument("--work-size", type=int, default=400,
                        help="side of the square work image (default 400, the paper's)")
    parser.add_argument("--solve-size", type=int, default=None,
                        help="solve the interactive mattes at this size and upsample them "
                             "guided by the photo (faster suggestions; e.g. 200)")
    parser.add_argument("--json", action="store_true", help="one JSON line per step on stdout")
    parser.add_argument("-o", "--output", help="write the final matte here (PNG, the photo's size)")
    parser.add_argument("--full-resolution", action="store_true",
                        help="solve the final matte again at the photo's resolution "
                             "(default: the 400 x 400 matte resized)")
    parser.add_argument("--final-option", action="append", metavar="NAME=VALUE",
                        help="solver option for the final matte only (-o), repeatable, e.g. "
                             "refine=laplacian with sm: slower, smoother; the questions are "
                             "asked with the solver as it is")
    # --preview is the first name of this option; `mattebox matte --preview` is a scale.
    parser.add_argument("--preview-png", "--preview", dest="preview", metavar="PNG",
                        help="preview PNG written each step (default "
                             "IMAGE_STEM.active-preview.png; --preview is its older name)")
    parser.add_argument("--heatmap", metavar="PNG",
                        help="write the informativeness heat map of the final state here")
    parser.add_argument("--save-session", metavar="NPZ", help="save the session here after every answer")
    parser.add_argument("--resume", metavar="NPZ", help="continue a saved session")


def _box(session, top: int, left: int) -> list[int]:
    """[x0, y0, x1, y1] in the photo's pixels of the region at (top, left) of the work image;
    at least one pixel wide and inside the photo, however small the photo."""
    height, width = session.original_shape
    sy = height / session.env.shape[0]
    sx = width / session.env.shape[1]
    size = session.region_size
    x0, y0 = min(round(left * sx), width - 1), min(round(top * sy), height - 1)
    x1 = min(max(round((left + size) * sx), x0 + 1), width)
    y1 = min(max(round((top + size) * sy), y0 + 1), height)
    return [int(x0), int(y0), int(x1), int(y1)]


def write_preview(path: Path, session, region: tuple[int, int, int] | None,
                  protect: tuple = ()) -> Path:
    """The photo (long side <= 800) with ``region`` boxed in red, beside the current matte
    (refused over a ``protect`` file, the inputs)."""
    import cv2

    from ..io import write_image

    image = session._image
    height, width = image.shape[:2]
    scale = min(1.0, 800 / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shown = cv2.resize(image.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    matte = cv2.resize(session.matte().astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    for past in session.regions(original=True):
        colour = (0.1, 0.9, 0.1) if past.label == "fg" else (0.1, 0.4, 1.0)
        p0 = (int(past.left * scale), int(past.top * scale))
        p1 = (int((past.left + past.width) * scale), int((past.top + past.height) * scale))
        cv2.rectangle(shown, p0, p1, colour, 1)
    for stroke in session.strokes(original=True):
        colour = (0.1, 0.9, 0.1) if stroke.label == "fg" else (0.1, 0.4, 1.0)
        points = np.array([[round(x * scale), round(y * scale)] for y, x in stroke.points], np.int32)
        cv2.polylines(shown, [points], False, colour, max(1, round(2 * stroke.radius * scale)))
    if region is not None:
        x0, y0, x1, y1 = _box(session, region[0], region[1])
        cv2.rectangle(shown, (int(x0 * scale), int(y0 * scale)), (int(x1 * scale), int(y1 * scale)), (1.0, 0.0, 0.0), 2)
    panel = np.concatenate([shown, np.repeat(matte[..., None], 3, axis=2)], axis=1)
    return write_image(path, np.clip(panel, 0, 1), protect=protect)


def _session(args):
    from ..io import read_alpha, read_image
    from .baselines import search_stride
    from .session import ActiveSession

    if not 32 <= args.work_size <= MAX_WORK_SIZE:
        raise InputError(f"--work-size must be between 32 and {MAX_WORK_SIZE} pixels (the paper's: "
                         f"400), not {args.work_size}")
    if args.seed < 0:
        raise InputError(f"--seed must be a whole number >= 0, not {args.seed}")
    if args.stride < 1:
        raise InputError(f"--stride must be at least 1 pixel, not {args.stride}")
    stride = search_stride(args.stride, args.search_size, args.work_size)
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    options = dict(seed=args.seed, stride=stride, workers=workers, weights=args.weights,
                   steps=args.steps or 20, search_size=args.search_size)
    image = read_image(args.image)
    alpha = read_alpha(args.oracle) if args.oracle else None
    if alpha is not None and alpha.shape != image.shape[:2]:
        raise InputError(f"the oracle alpha is {alpha.shape[1]}x{alpha.shape[0]} but the image is "
                         f"{image.shape[1]}x{image.shape[0]}; pass the matching ground truth")
    if args.resume:
        session = ActiveSession.restore(args.resume, solver=args.solver, policy=args.policy, **options)
        saved = session._image
        if saved.shape != image.shape or np.abs(saved - image).max() > 1.0 / 255:
            raise InputError(f"{args.resume} is a session on another photo ({saved.shape[1]}x"
                             f"{saved.shape[0]}) than {args.image} ({image.shape[1]}x"
                             f"{image.shape[0]}); pass the photo it was saved for")
        if alpha is not None:
            session.set_oracle(alpha)
        if args.policy == "ideal" and session.env.alpha is None:
            raise InputError("--policy ideal searches with the ground truth; pass --oracle ALPHA")
        return session
    if args.policy == "ideal" and not args.oracle:
        raise InputError("--policy ideal searches with the ground truth; pass --oracle ALPHA")
    return ActiveSession(image, solver=args.solver, policy=args.policy, alpha=alpha,
                         work_size=args.work_size, solve_size=args.solve_size, **options)


def _ask(prompt: str) -> str:
    """The person's reply, stripped and lower-case; "q" at the end of input."""
    print(prompt, end="", flush=True, file=sys.stderr)
    line = sys.stdin.readline()
    if not line:  # end of input: quit
        return "q"
    return line.strip().lower()


#: Brush radius of a painted stroke when the person gives none, in the photo's pixels.
DEFAULT_STROKE_RADIUS = 3.0


def parse_stroke(text: str) -> tuple[str, list[tuple[float, float]], float]:
    """``"fg 120,40 131,62 r=4"`` -> ("fg", [(y, x), ...], radius): a label (fg / bg, or f /
    b), one or more x,y points in the photo's pixels, and optionally r=RADIUS (default 3)."""
    words = text.replace(";", " ").split()
    labels = {"f": "fg", "fg": "fg", "b": "bg", "bg": "bg"}
    if not words or words[0] not in labels:
        raise InputError("a stroke starts with its label, fg or bg, e.g. 'fg 120,40 131,62 r=4'")
    points, radius = [], DEFAULT_STROKE_RADIUS
    for word in words[1:]:
        try:
            if word.startswith("r="):
                radius = float(word[2:])
                continue
            x, y = (float(v) for v in word.split(","))
        except ValueError:
            raise InputError(f"cannot read {word!r}: give points as x,y and the radius as r=NUMBER, "
                             "e.g. 'fg 120,40 131,62 r=4'") from None
        points.append((y, x))
    if not points:
        raise InputError("a stroke needs at least one x,y point, e.g. 'fg 120,40 131,62'")
    return labels[words[0]], points, radius


def _paint(session, args, inputs: tuple) -> None:
    """Ask for one stroke and paint it; a stroke the session refuses is reported, not fatal."""
    reply = _ask("stroke in the photo's pixels: fg|bg x,y [x,y ...] [r=RADIUS] "
                 "(e.g. 'fg 120,40 131,62 r=4'; empty to cancel)? ")
    if not reply or reply == "q":
        return
    try:
        label, points, radius = parse_stroke(reply)
        step = session.stroke(points, label, radius, original=True)
    except InputError as exc:
        print(f"stroke not painted: {exc}", file=sys.stderr)
        return
    height, width = step.trimap.shape
    print(f"painted a {label} stroke over {int(step.stroke.mask((height, width)).sum())} pixels of the "
          f"{height} x {width} work image; the next preview shows the new matte", file=sys.stderr)
    if args.save_session:
        session.save(args.save_session, protect=inputs)


def _final_solver(args: argparse.Namespace):
    """The solver of the final matte with ``--final-option``s bound (None without them), its
    options tried on a small composite first, so that a bad one is reported before the first
    question rather than after the last."""
    if not args.final_option:
        return None
    if not args.output:
        raise InputError("--final-option sets how the final matte is solved; pass -o FILE too")
    from ..checks import check_method_options
    from ..cli import parse_options
    from ..errors import MatteboxError
    from ..registry import get_method

    options = parse_options(args.final_option)
    spec = get_method(args.solver)
    check_method_options(spec.name, spec.fn, options)
    solver = get_solver(args.solver, **options)
    image = np.zeros((8, 8, 3))
    image[:, 4:] = 1.0
    trimap = np.full((8, 8), 0.5)
    trimap[:, 0], trimap[:, -1] = 0.0, 1.0
    try:
        solve_matte(image, trimap, solver)
    except MatteboxError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"--final-option {' '.join(args.final_option)} does not suit the solver "
                         f"{args.solver!r}: {exc}") from None
    return solver


def run(args: argparse.Namespace) -> int:
    """Run ``mattebox active`` (see the module docstring); 0 on success."""
    if args.steps is not None and args.steps < 1:
        raise InputError(f"--steps must be at least 1, not {args.steps}")
    if args.output and Path(args.output).suffix.lower() not in (".png", ".tif", ".tiff"):
        raise InputError(f"--output must be a .png or .tif file, not {args.output!r}")
    from ..io import WRITABLE_SUFFIXES, check_output_path

    # the session file may be saved over the one resumed; the images may replace no input
    inputs = tuple(p for p in (args.image, args.oracle, args.weights) if p)
    images_protect = inputs + ((args.resume,) if args.resume else ())
    automatic = args.oracle is not None
    preview = Path(args.preview) if args.preview else Path(Path(args.image).stem + ".active-preview.png")
    # A person needs the preview; answered by the oracle, it is written only when asked for.
    previews = not automatic or args.preview is not None
    # every output is checked before the first question, not after the last
    for output in (args.output, args.heatmap, preview if previews else None):
        if output:
            check_output_path(output, images_protect, WRITABLE_SUFFIXES, kind="image")
    if args.save_session:
        check_output_path(args.save_session, inputs, (".npz",), kind="session")
    final_solver = _final_solver(args)
    session = _session(args)
    steps = args.steps if args.steps is not None else (20 if automatic else 10**9)
    done = sum(1 for step in session.history if step.stroke is None)
    while done < steps:
        began = time.perf_counter()
        top, left, size = session.suggest()
        if automatic:
            label = session.oracle()
        else:
            write_preview(preview, session, (top, left, size), images_protect)
            x0, y0, x1, y1 = _box(session, top, left)
            key = _ask(f"region {done + 1} at x {x0}-{x1}, y {y0}-{y1} (see {preview}): "
                       "[f]oreground, [b]ackground, [s]kip, [p]aint a stroke, [u]ndo, [q]uit? ")[:1]
            if key == "q":
                break
            if key == "u":
                undone = session.undo()
                if undone is not None and undone.stroke is None:
                    done -= 1
                continue
            if key == "p":
                _paint(session, args, inputs)
                continue
            if key not in KEYS:
                print("please answer f, b, s, p, u or q", file=sys.stderr)
                continue
            label = KEYS[key]
            began = time.perf_counter()
        step = session.answer((top, left), label)
        seconds = time.perf_counter() - began
        done += 1
        record = {"step": done, "region": [top, left, size, size], "box": _box(session, top, left),
                  "answer": step.answer, "rmse": session.rmse(), "seconds": round(seconds, 4)}
        if args.json:
            print(json.dumps(record), flush=True)
        elif automatic:
            print(f"step {done}: region top {top} left {left} -> {step.answer}, RMSE {record['rmse']:.4f}, "
                  f"{seconds:.2f} s", flush=True)
        if automatic and previews:  # the region just answered, beside the matte it gave
            write_preview(preview, session, (top, left, size), images_protect)
        if args.save_session:
            session.save(args.save_session, protect=inputs)
    if not automatic:
        write_preview(preview, session, None, images_protect)
    if args.heatmap:
        from ..io import write_image
        from .informativeness import heat_map_image, informativeness_map

        heat = informativeness_map(session.matte(), session.trimap(), session.region_size)
        write_image(args.heatmap, heat_map_image(session.env.image, heat), protect=images_protect)
    if args.output:
        import cv2

        from ..io import write_alpha

        if args.full_resolution:
            alpha = session.full_matte(final_solver)
        else:
            height, width = session.original_shape
            matte = session.matte() if final_solver is None else solve_matte(
                session.env.image, session.trimap(), final_solver)
            alpha = cv2.resize(matte, (width, height), interpolation=cv2.INTER_LINEAR)
        write_alpha(args.output, np.clip(alpha, 0, 1), protect=images_protect)
        if not args.json:
            print(args.output)
    return 0


def main(argv=None) -> int:
    """Stand-alone entry (``python -m mattebox.active.command``), same as ``mattebox active``."""
    from ..errors import MatteboxError

    parser = argparse.ArgumentParser(prog="mattebox active", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except MatteboxError as exc:
        print(f"mattebox: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
