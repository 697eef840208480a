"""Training checkpoints: everything needed to resume a run exactly, written atomically.

A checkpoint holds the model, optimiser, scheduler and loss-scaler states, the number of
steps done, the config (as a dict), the best evaluation score so far and the random-number
states of Python, NumPy and torch. Training samples are a pure function of (seed, sample
index), so the data stream needs no state of its own: resuming at step s draws the samples an
uninterrupted run would have drawn at step s.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError

CHECKPOINT_FORMAT = "mattebox-checkpoint-1"


def atomic_torch_save(payload: Any, path: Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it owner-only; weights files get shipped
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def rng_states() -> dict[str, Any]:
    """The random-number states of Python, NumPy and torch (and CUDA where present)."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, *, model, optimizer, scheduler, scaler, step: int,
                    config: dict, best: dict | None = None, extra: dict | None = None) -> Path:
    """Write a checkpoint after ``step`` completed steps (see the module docstring)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "step": int(step),
        "config": config,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "rng": rng_states(),
        "best": best or {},
        "extra": extra or {},
    }
    return atomic_torch_save(payload, path)


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load`` that runs no code from the file: tensors, containers and Python
    scalars, plus the NumPy array type of the RNG states (:func:`rng_states`). Anything else
    in the file raises (``pickle.UnpicklingError``) instead of being built."""
    numpy_core = getattr(np, "_core", None) or np.core
    allowed = [numpy_core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist; train without --resume first")
    try:
        payload = safe_torch_load(path)
    except Exception as exc:  # not a torch file, damaged, or holding objects we never write
        raise InputError(f"{path} is not a mattebox training checkpoint ({type(exc).__name__}: "
                         f"not a file `mattebox train` wrote, or a damaged one)") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a mattebox training checkpoint")
    return payload
