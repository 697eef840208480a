"""Deep matting models, one subpackage per paper, on the shared "mattor" base (:mod:`.base`).

Each model package ``mattebox.models.<name>`` provides ``build_model(**options)`` (the
network), ``build_objective(model, **options)`` (how it is trained, for
:mod:`mattebox.train`) and registers its inference method in :mod:`mattebox.registry`.
Weight files written by :func:`save_weights` hold the model's name and options beside its
parameters, so :func:`load_weights` rebuilds the network without a config.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import InputError

WEIGHTS_FORMAT = "mattebox-weights-1"


def _package(name: str):
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise InputError(f"unknown model {name!r}; mattebox has a package per model under mattebox.models") from None


def build_model(name: str, **options: Any):
    """The network of model ``name`` (e.g. ``"dim"``) built with ``options``."""
    return _package(name).build_model(**options)


def build_objective(name: str, model, **options: Any):
    """The training objective of model ``name`` for ``model`` (see :mod:`mattebox.train.engine`)."""
    return _package(name).build_objective(model, **options)


def save_weights(path: str | Path, name: str, options: dict, model, meta: dict | None = None) -> Path:
    """Write ``model``'s parameters with its ``name`` and build ``options`` (atomically)."""
    from ..train.checkpoint import atomic_torch_save

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": WEIGHTS_FORMAT, "model": name, "options": dict(options),
               "state_dict": state, "meta": dict(meta or {})}
    return atomic_torch_save(payload, Path(path))


def read_weights(path: str | Path) -> dict:
    """The payload of a weights file (see :func:`save_weights`) or of a training checkpoint."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Training checkpoints also hold RNG states, which a weights-only load refuses.
        from ..train.checkpoint import load_checkpoint

        try:
            checkpoint = load_checkpoint(path)
        except Exception:
            raise InputError(f"{path} is not a readable mattebox weights file or training "
                             f"checkpoint; pass a file written by `mattebox train`") from None
        model_cfg = dict(checkpoint["config"]["model"])
        return {"format": WEIGHTS_FORMAT, "model": model_cfg.pop("name"), "options": model_cfg,
                "state_dict": checkpoint["model_state"],
                "meta": {"step": checkpoint["step"],
                         "norm_stats": checkpoint["config"].get("eval", {}).get("norm_stats", "running")}}
    except Exception as exc:
        raise InputError(f"{path} is not a readable mattebox weights file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        raise InputError(f"{path} is not a mattebox weights file or training checkpoint")
    return payload


def load_weights(path: str | Path, expect: str | None = None):
    """The network stored in ``path``, in eval mode; ``expect`` checks the model name.

    A file whose metadata names the batch-norm statistics the model was chosen with
    (``meta["norm_stats"]``, written by :func:`mattebox.train.engine.export_weights` from the
    config's ``[eval] norm_stats``) sets ``model.norm_stats``, the default of
    :func:`mattebox.models.base.predict_alpha`; older files leave it unset ("running").
    """
    payload = read_weights(path)
    if expect is not None and payload["model"] != expect:
        raise InputError(f"{path} holds a {payload['model']!r} model, not {expect!r}")
    model = build_model(payload["model"], **payload["options"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    norm_stats = payload.get("meta", {}).get("norm_stats")
    if norm_stats is not None:
        from .base import NORM_STATS

        if norm_stats not in NORM_STATS:
            raise InputError(f"{path} names norm_stats {norm_stats!r}; expected one of {', '.join(NORM_STATS)}")
        model.norm_stats = norm_stats
    return model
