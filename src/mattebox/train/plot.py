"""The training curve of a run: its loss and learning rate, and its evaluation scores, as a PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_training_curve(run_dir: str | Path, out_path: str | Path,
                        references: dict[str, float] | None = None, title: str | None = None) -> Path:
    """Write ``out_path``: training loss (raw and smoothed) with the learning rate, and mean SAD
    of each evaluation set over steps; ``references`` draws horizontal lines (e.g. another
    method's mean SAD on the same set, keyed ``"label"``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    train = _read(run_dir / "train_log.csv")
    evals = _read(run_dir / "eval_log.csv")
    figure, (ax_loss, ax_eval) = plt.subplots(1, 2, figsize=(11, 4.2))
    if train:
        steps = np.array([int(r["step"]) for r in train])
        loss = np.array([float(r["loss"]) for r in train])
        ax_loss.plot(steps, loss, color="0.75", lw=0.8, label="loss (per log interval)")
        ax_loss.plot(steps, _smooth(loss, 25), color="C0", lw=1.6, label="loss (smoothed)")
        ax_loss.set_yscale("log")
        ax_lr = ax_loss.twinx()
        ax_lr.plot(steps, [float(r["lr"]) for r in train], color="C3", lw=1, ls="--", label="learning rate")
        ax_lr.set_ylabel("learning rate", color="C3")
        ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (unknown region)")
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_loss.grid(alpha=0.3)
    sets = sorted({r["set"] for r in evals})
    for i, name in enumerate(sets):
        rows = [r for r in evals if r["set"] == name]
        ax_eval.plot([int(r["step"]) for r in rows], [float(r["sad"]) for r in rows], marker="o", ms=3,
                     color=f"C{i}", label=f"{name}")
    for j, (label, value) in enumerate((references or {}).items()):
        ax_eval.axhline(value, color=f"C{len(sets) + j}", ls=":", lw=1.2, label=label)
    ax_eval.set_xlabel("step")
    ax_eval.set_ylabel("mean SAD / 1000 (unknown region)")
    ax_eval.grid(alpha=0.3)
    if sets or references:
        ax_eval.legend(fontsize=8)
    figure.suptitle(title or f"training run {run_dir.name}")
    figure.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=110)
    plt.close(figure)
    return out_path
