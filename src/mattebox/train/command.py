"""``mattebox train CONFIG``: train a deep matting model from a TOML config.

Examples::

    mattebox train configs/dim_small.toml                      # into runs/dim_small/
    mattebox train configs/dim_small.toml --resume             # continue exactly where it stopped
    mattebox train configs/dim_small.toml --resume --stop-at 20000 --export dim.pt
    mattebox train configs/dim_small.toml --export dim.pt --export-only   # best checkpoint so far
    torchrun --nproc_per_node 4 --no-python mattebox train configs/dim_paper.toml --device cuda
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from ..errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="TOML training config, e.g. configs/dim_small.toml")
    parser.add_argument("--out", "-o", help="output folder (default runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.pt (model, optimiser, schedule, RNG, step)")
    parser.add_argument("--max-steps", type=int,
                        help="override [train] max_steps, the length the schedule spans")
    parser.add_argument("--stop-at", type=int,
                        help="stop once this many steps are done (the schedule still spans max_steps)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides [train] device)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process (overrides [train] threads)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any config value, e.g. --set train.batch_size=8 (repeatable)")
    parser.add_argument("--export", metavar="PATH",
                        help="afterwards, write the best (else the last) model as a weights file")
    parser.add_argument("--export-only", action="store_true",
                        help="with --export: write the weights file from OUT and train nothing")
    parser.add_argument("--evaluate", action="store_true",
                        help="only evaluate OUT/last.pt (or the initial model) and print the scores")
    parser.add_argument("--plot", metavar="PNG",
                        help="write the training curve of OUT's logs to PNG and train nothing")
    parser.add_argument("--reference", action="append", default=[], metavar="LABEL=SAD",
                        help="with --plot: a horizontal reference line on the SAD panel (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (values parsed as Python literals, else strings)."""
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise InputError(f"--set {item!r} must look like SECTION.KEY=VALUE, e.g. train.batch_size=8")
        path, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        *sections, key = path.strip().split(".")
        target = values
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    return values


def run(args: argparse.Namespace) -> int:
    from .config import from_dict, read_config_values
    from .engine import Trainer

    path = Path(args.config)
    values = read_config_values(path)
    values = apply_overrides(values, args.set)
    if args.max_steps is not None:
        values.setdefault("train", {})["max_steps"] = args.max_steps
    if args.threads is not None:
        values.setdefault("train", {})["threads"] = args.threads
    config = from_dict(values, where=str(path))
    out_dir = Path(args.out) if args.out else Path("runs") / config.name
    if args.plot:
        from .plot import plot_training_curve

        references = {}
        for item in args.reference:
            label, _, value = item.rpartition("=")
            try:
                references[label] = float(value)
            except ValueError:
                raise InputError(f"--reference {item!r} must look like LABEL=NUMBER") from None
        print(f"wrote {plot_training_curve(out_dir, args.plot, references, title=f'{config.name} training')}")
        return 0
    if args.export_only:
        if not args.export:
            raise InputError("--export-only needs --export PATH")
        print(f"wrote {_export(out_dir, args.export)}")
        return 0
    from ..io import make_output_folder

    make_output_folder(out_dir, create=False)  # a file or an unwritable place: say so now
    if not args.resume and (out_dir / "last.pt").exists() and not args.evaluate:
        raise InputError(f"{out_dir} already holds a run; pass --resume to continue it or --out "
                         "to start a new one elsewhere")

    trainer = Trainer(config, out_dir, resume=args.resume or (args.evaluate and (out_dir / "last.pt").exists()),
                      stop_at=args.stop_at, device=args.device, progress=not args.no_progress)
    if args.evaluate:
        for name, means in trainer.evaluate().items():
            print(f"{name:22s} " + "  ".join(f"{k} {v:.4f}" for k, v in means.items()))
        return 0
    summary = trainer.run()
    from .distributed import cleanup

    cleanup()
    if trainer.process.is_main:
        print(f"trained {summary['step']} steps into {out_dir}")
        if summary["best"]:
            print(f"best {summary['best']['metric']} {summary['best']['score']:.4f} at step {summary['best']['step']}")
        if args.export:
            print(f"wrote {_export(out_dir, args.export)}")
    return 0


def _export(out_dir: Path, path: str) -> str:
    from .engine import export_weights

    source = out_dir / "best.pt" if (out_dir / "best.pt").exists() else out_dir / "last.pt"
    if not source.exists():
        raise InputError(f"{out_dir} holds no checkpoint to export; train first")
    return f"{export_weights(source, path)} (from {source.name})"
