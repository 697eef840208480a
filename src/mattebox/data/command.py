"""``mattebox data ...``: write procedural foregrounds, the synthetic test set, Composition-1k
style composites and the contact sheet; measure generation speed.

    mattebox data foregrounds -o DIR --count 1000 --size 512 --seed 0 [--kinds hair,net]
    mattebox data testset -o DIR [--count 50 --backgrounds 4 --size 512 --seed S]
    mattebox data compose FG_ROOT -o DIR --per-foreground 4
    mattebox data sheet -o docs/procedural_samples.png
    mattebox data speed --size 320
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``data`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    p = sub.add_parser("foregrounds", help="write procedural foregrounds (fg/ and alpha/ PNGs)")
    p.add_argument("-o", "--output", required=True, help="output folder (fg/ and alpha/ are made in it)")
    p.add_argument("--count", type=int, default=100, help="number of foregrounds (default 100)")
    p.add_argument("--size", type=int, default=512, help="side in pixels (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first foreground (default 0)")
    p.add_argument("--kinds", default=None,
                   help="comma-separated kinds to cycle through (default all: "
                        "hair,net,foliage,transparent,blur,solid)")

    p = sub.add_parser("testset", help="write the fixed synthetic test set (image/ alpha/ trimap/ fg/ bg/)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--count", type=int, default=50, help="procedural foregrounds (default 50)")
    p.add_argument("--backgrounds", type=int, default=4, help="validation backgrounds per foreground (default 4)")
    p.add_argument("--size", type=int, default=512, help="side in pixels (default 512)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the fixed test-set seed)")

    p = sub.add_parser("compose", help="composite a folder of fg/ and alpha/ over backgrounds (Composition-1k)")
    p.add_argument("foregrounds", help="folder holding fg/ and alpha/")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--per-foreground", type=int, default=4, help="backgrounds per foreground (default 4)")
    p.add_argument("--split", choices=("train", "validation"), default="validation",
                   help="which backgrounds to use (default validation)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("sheet", help="draw a contact sheet of procedural samples (alpha and composite)")
    p.add_argument("-o", "--output", required=True, help="PNG to write")
    p.add_argument("--per-kind", type=int, default=4, help="samples per kind (default 4)")
    p.add_argument("--size", type=int, default=256, help="tile side (default 256)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("speed", help="measure foreground generation and augmentation throughput")
    p.add_argument("--size", type=int, default=320, help="foreground side (default 320)")
    p.add_argument("--count", type=int, default=12, help="samples per measurement (default 12)")


def _kinds(text: str | None) -> tuple[str, ...] | None:
    from .procedural import KINDS

    if not text:
        return None
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    return kinds


def _positive(value: int, what: str) -> int:
    if value < 1:
        raise InputError(f"{what} must be at least 1, not {value}")
    return value


#: Smallest side of a procedural foreground (as :func:`~.procedural.generate_foreground` checks).
SMALLEST_SIZE = 32


def _checked_numbers(args: argparse.Namespace) -> None:
    """InputError for a negative seed or a size below :data:`SMALLEST_SIZE`, before any work."""
    if getattr(args, "seed", None) is not None and args.seed < 0:
        raise InputError(f"--seed must be a whole number >= 0, not {args.seed}")
    if getattr(args, "size", None) is not None and args.size < SMALLEST_SIZE:
        raise InputError(f"--size must be at least {SMALLEST_SIZE} pixels, not {args.size}")


def run(args: argparse.Namespace) -> int:
    """Run the ``data`` subcommand in ``args``; returns the exit status."""
    command = args.data_command
    _checked_numbers(args)
    if command in ("foregrounds", "testset", "compose"):
        from ..io import make_output_folder

        make_output_folder(args.output, create=False)  # the writers create it
    if command == "foregrounds":
        from .procedural import write_foregrounds

        paths = write_foregrounds(args.output, _positive(args.count, "--count"), args.size, args.seed,
                                  _kinds(args.kinds), progress=True)
        print(f"wrote {len(paths)} foregrounds to {args.output} (fg/, alpha/)")
    elif command == "testset":
        from .composition import TEST_SET_SEED, make_test_set

        seed = TEST_SET_SEED if args.seed is None else args.seed
        out = make_test_set(args.output, _positive(args.count, "--count"),
                            _positive(args.backgrounds, "--backgrounds"), args.size, seed, progress=True)
        print(f"wrote {args.count * args.backgrounds} test images to {out}")
    elif command == "compose":
        from .composition import compose_dataset, split_backgrounds

        train, validation = split_backgrounds()
        photos = train if args.split == "train" else validation
        paths = compose_dataset(args.foregrounds, args.output, _positive(args.per_foreground, "--per-foreground"),
                                photos, args.seed)
        print(f"wrote {len(paths)} composites to {args.output}")
    elif command == "sheet":
        from ..io import WRITABLE_SUFFIXES, check_output_path, make_output_folder, write_image

        make_output_folder(Path(args.output).parent, create=False)
        if Path(args.output).parent.is_dir():
            check_output_path(args.output, suffixes=WRITABLE_SUFFIXES, kind="image")
        sheet = contact_sheet(_positive(args.per_kind, "--per-kind"), args.size, args.seed)
        make_output_folder(Path(args.output).parent)
        write_image(args.output, sheet)
        print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    elif command == "speed":
        for line in speed_report(args.size, _positive(args.count, "--count")):
            print(line)
    else:  # pragma: no cover - argparse rejects other names
        raise InputError(f"unknown data command {command!r}")
    return 0


def contact_sheet(per_kind: int = 4, size: int = 256, seed: int = 0) -> np.ndarray:
    """A grid of procedural samples: one row per kind, ``per_kind`` (alpha, cut-out) pairs.

    Cut-outs are shown over a grey checkerboard rather than the background photos, so the
    sheet holds nothing of the shared photo collections but the small texture patches.
    H x W x 3 float32.
    """
    import cv2

    from .composition import composite
    from .procedural import KINDS, generate_foreground

    yy, xx = np.mgrid[0:size, 0:size]
    checks = np.where((yy // 16 + xx // 16) % 2 == 0, 0.55, 0.75).astype(np.float32)
    checkerboard = np.repeat(checks[..., None], 3, axis=2)
    label_width, gap = 120, 4
    rows = []
    for k, kind in enumerate(KINDS):
        tiles = []
        label = np.full((size, label_width, 3), 30, np.uint8)
        cv2.putText(label, kind, (8, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(label.astype(np.float32) / 255)
        for j in range(per_kind):
            fg, alpha = generate_foreground(seed + k + len(KINDS) * j, size, kind)
            tiles.append(np.repeat(alpha[..., None], 3, axis=2))
            tiles.append(composite(fg, alpha, checkerboard))
            tiles.append(np.ones((size, gap, 3), np.float32))
        rows.append(np.concatenate(tiles[:-1], axis=1))
        rows.append(np.ones((gap, rows[-1].shape[1], 3), np.float32))
    return np.clip(np.concatenate(rows[:-1], axis=0), 0, 1)


def speed_report(size: int = 320, count: int = 12) -> list[str]:
    """Lines of measured throughput, single-threaded (OpenCV held to one thread, as in a
    DataLoader worker): foreground generation per kind at ``size``, then each recipe applied
    to 640 px foregrounds. Each line gives samples per second of wall time and per second of
    this process's CPU time; the latter is what one core delivers on an idle machine, and
    N worker processes on N free cores deliver about N times it."""
    import cv2

    from .augment import get_pipeline, list_pipelines
    from .composition import read_background, split_backgrounds
    from .procedural import KINDS, generate_foreground

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        lines = []

        def measure(label, fn):
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(count):
                fn(i)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            lines.append(f"{label}: {count / wall:6.1f} samples/s wall, {count / cpu:6.1f} per CPU-second")
            return wall, cpu

        totals = np.zeros(2)
        for kind in KINDS:
            generate_foreground(10_000, size, kind)  # warm caches
            totals += measure(f"generate {kind:12s} {size}x{size}", lambda i: generate_foreground(i, size, kind))
        lines.append(f"generate {'(all kinds)':12s} {size}x{size}: {count * len(KINDS) / totals[0]:6.1f} "
                     f"samples/s wall, {count * len(KINDS) / totals[1]:6.1f} per CPU-second")
        train, _ = split_backgrounds()
        fgs = [generate_foreground(i, 640) for i in range(len(KINDS))]
        bg = read_background(train[0])
        for name in list_pipelines():
            pipeline = get_pipeline(name)

            def step(i):
                fg, alpha = fgs[i % len(fgs)]
                pipeline({"fg": fg, "alpha": alpha, "bg": bg}, np.random.default_rng(i))

            measure(f"augment  {name:16s} 640 -> 320", step)
        return lines
    finally:
        cv2.setNumThreads(threads)
