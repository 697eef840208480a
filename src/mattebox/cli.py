"""The ``mattebox`` command line.

Every sub-command validates its inputs before doing work; bad input ends with exit status 2
and one sentence on stderr saying what is wrong and how to fix it, never a traceback, and
nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Sequence

from .errors import MatteboxError

EXAMPLES = """\
examples:
  mattebox matte photo.jpg --trimap trimap.png -o out/
  mattebox matte photo.jpg --trimap trimap.png --method cf --background "#00b140" -o out/
  mattebox matte photo.jpg --trimap trimap.png --background beach.jpg -o out/
  mattebox trimap --from-mask mask.png --width 12 -o trimap.png
  mattebox eval --method cf --data ../shared/data/alphamatting-dev --trimap trimap2 --json cf.json
  mattebox methods
  mattebox demo
"""

# Sub-commands whose arguments and behaviour live with the feature they drive.
DELEGATED = {
    "train": ("mattebox.train.command", "train a deep matting model from a TOML config"),
    "data": ("mattebox.data.command", "generate procedural foregrounds and synthetic test sets"),
    "active": ("mattebox.active.command", "active matting: answer fg/bg for suggested regions"),
}


class _Progress:
    """Progress lines on stderr with the elapsed time, silent with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_options(pairs: Sequence[str] | None) -> dict:
    """``NAME=VALUE`` strings (``-O``) as a dict: VALUE read as a Python literal where it is one
    (``3``, ``1e-6``, ``(1, 2)``, ``True``), as a float for ``nan`` / ``inf``, else as text."""
    options = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise MatteboxError(f"option {pair!r} must look like NAME=VALUE, e.g. -O epsilon=1e-6")
        key, value = pair.split("=", 1)
        try:
            options[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            try:  # nan, inf: numbers that are no Python literals, for the method to judge
                options[key.strip()] = float(value)
            except ValueError:
                options[key.strip()] = value
    return options


def _cmd_matte(args: argparse.Namespace) -> int:
    from .api import matte
    from .registry import get_method

    spec = get_method(args.method)
    if spec.needs == "trimap" and args.trimap is None:
        raise MatteboxError(f"method {spec.name!r} needs a trimap; pass --trimap FILE")
    if spec.needs == "mask" and args.mask is None:
        raise MatteboxError(f"method {spec.name!r} needs a coarse mask; pass --mask FILE")
    options = parse_options(args.option)
    if args.preview is not None:
        if "preview" in options:
            raise MatteboxError("give the preview scale once: --preview SCALE or -O preview=SCALE")
        options["preview"] = args.preview
    progress = _Progress(args.quiet)
    progress(f"reading {args.image}")
    result = matte(
        args.image,
        args.trimap,
        method=spec.name,
        mask=args.mask,
        background=args.background,
        foreground_method=args.foreground_method,
        output_dir=args.output,
        progress=progress,
        **options,
    )
    written = [str(Path(args.output) / name) for name in ("alpha.png", "cutout.png", "composite.png")
               if name != "composite.png" or result.composite is not None]
    print("\n".join(written))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import dataset_files, evaluate
    from .io import check_output_path, write_text

    progress = _Progress(args.quiet)

    def report_row(done: int, total: int, row: dict) -> None:
        progress(f"{done}/{total} {row['name']}: SAD {row['sad']:.3f}, {row['seconds']:.2f} s")

    # the outputs are checked before the evaluation, and may not replace a file of the dataset
    protect = dataset_files(args.data)
    if args.json:
        check_output_path(args.json, protect)
    csv_paths = {}
    if args.csv:
        for trimap in args.trimap:
            path = Path(args.csv)
            if len(args.trimap) > 1:
                path = path.with_name(f"{path.stem}_{Path(trimap).name}{path.suffix}")
            csv_paths[trimap] = check_output_path(path, protect)
    results = []
    for trimap in args.trimap:
        progress(f"evaluating {args.method} on {args.data} with {trimap}")
        report = evaluate(args.method, args.data, trimap, options=parse_options(args.option), progress=report_row)
        print(report.table())
        results.append(report)
        if args.csv:
            report.to_csv(csv_paths[trimap], protect=protect)
    if args.json:
        import json

        payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        write_text(args.json, json.dumps(payload, indent=2) + "\n", protect=protect)
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from .registry import get_method, list_methods

    if args.name is None:
        for spec in list_methods():
            aliases = f" (also {', '.join(spec.aliases)})" if spec.aliases else ""
            print(f"{spec.name:<10} needs {spec.needs:<8} {spec.summary}{aliases}")
        return 0
    spec = get_method(args.name)
    print(f"{spec.name}: {spec.summary}")
    if spec.reference:
        print(f"  reference: {spec.reference}")
    also = f"; also called {', '.join(spec.aliases)}" if spec.aliases else ""
    print(f"  needs a {spec.needs}; returns {' and '.join(spec.returns)}{also}")
    options = spec.option_defaults()
    if options:
        print("  options (-O NAME=VALUE), with their defaults:")
        for key, value in options.items():
            print(f"    {key}={value!r}")
    return 0


def _cmd_trimap(args: argparse.Namespace) -> int:
    from . import io, trimap

    sources = [s for s in (args.from_alpha, args.from_mask, args.from_image) if s is not None]
    if len(sources) != 1:
        raise MatteboxError("give exactly one of --from-alpha, --from-mask or --from-image")
    protect = [Path(s) for s in sources]
    io.check_image_output_path(Path(args.output), protect)
    if args.from_alpha is not None:
        result = trimap.trimap_from_alpha(io.read_alpha(args.from_alpha), width=args.width)
    elif args.from_mask is not None:
        result = trimap.trimap_from_mask(io.read_alpha(args.from_mask, kind="mask"), width=args.width)
    else:
        box = None
        if args.box:
            try:
                box = tuple(int(v) for v in args.box.split(","))
            except ValueError:
                box = ()
            if len(box) != 4:
                raise MatteboxError(f"--box must be four whole numbers LEFT,TOP,WIDTH,HEIGHT, e.g. "
                                    f"--box 40,30,200,300, not {args.box!r}")
        result = trimap.trimap_from_box(io.read_image(args.from_image), box, width=args.width)
    io.write_trimap(args.output, result, protect=protect)
    print(args.output)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.output, method=args.method, progress=_Progress(args.quiet))
    return 0


def _delegated_available(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; a delegated sub-command's module is imported only when chosen."""
    parser = argparse.ArgumentParser(
        prog="mattebox",
        description="Natural image matting: estimate alpha mattes and foreground colours, "
        "composite, evaluate.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"mattebox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("matte", help="estimate the alpha matte and cut-out of an image",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", help="the photo (PNG, JPEG, TIFF, WebP)")
    p.add_argument("--trimap", "-t", help="trimap: black background, white foreground, grey unknown")
    p.add_argument("--mask", help="coarse mask, for methods that take one instead of a trimap")
    p.add_argument("--method", "-m", default="cf", help="matting method (see `mattebox methods`; default cf)")
    p.add_argument("--background", "-b", help="new background for composite.png: an image or #rrggbb")
    p.add_argument("--foreground-method", default="ml", choices=("ml", "cf"),
                   help="foreground colour estimation: ml (fast multi-level) or cf (closed form)")
    p.add_argument("--output", "-o", required=True, help="output folder (created if missing)")
    p.add_argument("--option", "-O", action="append", metavar="NAME=VALUE", help="method option, repeatable")
    p.add_argument("--preview", type=float, metavar="SCALE",
                   help="solve a copy shrunk by SCALE in (0, 1], e.g. 0.25, and upsample the matte "
                        "guided by the photo: a fast first look (trimap methods)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(run=_cmd_matte)

    p = sub.add_parser("eval", help="score a method on a folder with ground truth")
    p.add_argument("--method", "-m", required=True, help="matting method name")
    p.add_argument("--data", required=True, help="folder with image/, alpha/ and trimap folders")
    p.add_argument("--trimap", nargs="+", default=["trimap"], help="trimap sub-folder(s), e.g. trimap trimap2")
    p.add_argument("--json", help="write the scores as JSON to this file")
    p.add_argument("--csv", help="write the per-image scores as CSV to this file")
    p.add_argument("--option", "-O", action="append", metavar="NAME=VALUE", help="method option, repeatable")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("methods", help="list the matting methods, or one method's options")
    p.add_argument("name", nargs="?", help="a method: show its reference and options")
    p.set_defaults(run=_cmd_methods)

    p = sub.add_parser("trimap", help="make a trimap from an alpha, a mask or an image (GrabCut)")
    p.add_argument("--from-alpha", help="alpha matte: unknown where fractional, widened by --width")
    p.add_argument("--from-mask", help="binary or soft mask: unknown band of --width px each side")
    p.add_argument("--from-image", help="photo: GrabCut inside --box (default: central 80%%)")
    p.add_argument("--box", help="LEFT,TOP,WIDTH,HEIGHT around the object, with --from-image")
    p.add_argument("--width", type=float, default=10, help="band width in pixels (default 10)")
    p.add_argument("--output", "-o", required=True, help="trimap file to write (.png)")
    p.set_defaults(run=_cmd_trimap)

    p = sub.add_parser("demo", help="matte two sample photos and write the results")
    p.add_argument("--output", "-o", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--method", "-m", default="cf", help="matting method (default cf)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(run=_cmd_demo)

    chosen = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    for name, (module_name, help_text) in DELEGATED.items():
        if not _delegated_available(module_name):
            continue  # that feature is not part of this version
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # importing it may load PyTorch: only when asked for
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except MatteboxError as exc:
        print(f"mattebox: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("mattebox: error: out of memory; try a smaller image or a method that tiles "
              "(see `mattebox methods`)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mattebox: interrupted; nothing more was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
