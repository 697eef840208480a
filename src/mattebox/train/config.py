"""Training configurations: a TOML file read into nested dataclasses.

A config has the top-level keys ``seed`` and ``name`` and the tables ``[model]`` (``name`` plus
the network's build options), ``[objective]`` (options of the model's training objective),
``[data]``, ``[optim]``, ``[schedule]``, ``[train]`` and ``[eval]``; see the dataclasses below
for every key and its default. Unknown keys are errors, so a typo cannot silently fall back to
a default. Relative paths are taken from the current directory.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError


@dataclass
class DataConfig:
    #: "procedural" (generated foregrounds over photo backgrounds), "folder" (fg/ alpha/
    #: folders) or "toy" (soft discs over smooth backgrounds: tests and smoke runs only).
    source: str = "procedural"
    #: Training crop side in pixels (DIM: 320), a multiple of 32.
    crop_size: int = 320
    #: Augmentation recipe name (see mattebox.data.augment); "dim" is DIM/AlphaGAN's.
    augment: str = "dim"
    #: Folder of the source (for "folder": with fg/ and alpha/); "" means the default.
    root: str = ""
    #: Which split of the background photos to composite over: "train" or "validation"
    #: (the photos are found as mattebox.data.composition.backgrounds_dir says).
    backgrounds: str = "train"
    #: DataLoader worker processes (0: load in the training process).
    num_workers: int = 0
    #: Extra keyword options passed to the source (e.g. fg_size, reuse, kinds for "procedural";
    #: per_foreground for "folder"; see mattebox.data.datasets).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    #: Clip the global gradient norm to this value (0: no clipping).
    grad_clip: float = 0.0


@dataclass
class ScheduleConfig:
    name: str = "constant"  # constant | poly | cosine
    warmup_steps: int = 0
    power: float = 0.9  # poly
    min_lr_ratio: float = 0.0  # cosine floor, as a fraction of the base rate


@dataclass
class TrainConfig:
    max_steps: int = 1000
    #: Samples per step and process (the global batch is batch_size x processes).
    batch_size: int = 4
    #: torch threads per process (0: leave torch's default).
    threads: int = 1
    device: str = "cpu"  # cpu | cuda | cuda:N | auto
    #: Mixed precision (torch.autocast, bfloat16 or float16 with loss scaling) on CUDA only.
    amp: bool = True
    amp_dtype: str = "bfloat16"  # bfloat16 | float16
    log_every: int = 10
    checkpoint_every: int = 100
    #: Also keep a copy of the checkpoint every this many steps (0: only the latest).
    keep_every: int = 0
    #: Start from the network in this weights file (or training checkpoint) instead of a fresh
    #: initialisation; the optimiser, schedule and step start anew. Ignored on --resume.
    init: str = ""
    #: After ``init``: "keep" the loaded network as it is, or "hints": silence its own output
    #: so that it starts by predicting its hints' alpha (a model's ``start_from_hints``; DIM
    #: with ``hint_skip``) and learns corrections to it.
    init_output: str = "keep"


@dataclass
class EvalConfig:
    #: Evaluate every this many steps (0: never during training).
    every: int = 1000
    #: The alphamatting-dev folder; "" means <shared data>/alphamatting-dev; "none" skips it.
    dev_dir: str = ""
    dev_trimaps: tuple[str, ...] = ("trimap", "trimap2")
    #: Images of the seeded synthetic test set to score (0: none).
    synthetic_count: int = 20
    #: What picks the best checkpoint: mean "sad", "mse", "grad" or "conn" ...
    best_metric: str = "sad"
    #: ... on "dev" (alphamatting-dev, both trimaps) or "synthetic".
    best_on: str = "dev"
    tile_size: int = 1024
    #: Batch-norm statistics the evaluation predicts with: "running" (those of training) or
    #: "image" (each image's own, :func:`mattebox.models.base.predict_alpha`; twice the time).
    #: The two can rank checkpoints differently, so this also decides which is kept as best.
    norm_stats: str = "running"


@dataclass
class Config:
    name: str = "run"
    seed: int = 0
    model: dict[str, Any] = field(default_factory=lambda: {"name": "dim"})
    objective: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def model_name(self) -> str:
        return str(self.model["name"])

    @property
    def model_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists for tuples) for checkpoints and TOML."""
        return _plain(dataclasses.asdict(self))


_SECTIONS = {"data": DataConfig, "optim": OptimConfig, "schedule": ScheduleConfig,
             "train": TrainConfig, "eval": EvalConfig}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _section(cls, values: dict[str, Any], where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)} in [{where}]; known keys: {', '.join(known)}"
        )
    kwargs = {}
    for key, value in values.items():
        default = known[key].default
        _check_type(f"[{where}] {key}", value, default)
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _check_type(name: str, value: Any, default: Any) -> None:
    """InputError unless ``value`` has the kind of ``default`` (a bool, a whole number, a
    number, a string or a list); a key whose default is None or a factory takes anything."""
    kinds = ((bool, "true or false", lambda v: isinstance(v, bool)),
             (int, "a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
             (float, "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
             (str, "a string in quotes", lambda v: isinstance(v, str)),
             (tuple, "a list, e.g. [1, 2]", lambda v: isinstance(v, (list, tuple))))
    for kind, wanted, accepts in kinds:
        if isinstance(default, kind):
            if not accepts(value):
                raise InputError(f"{name} must be {wanted} (default {default!r}), not {value!r}")
            return


def from_dict(values: dict[str, Any], where: str = "config") -> Config:
    """A :class:`Config` from a nested dict (as read from TOML or stored in a checkpoint)."""
    values = copy.deepcopy(values)
    top_known = {"name", "seed", "model", "objective", *_SECTIONS}
    unknown = sorted(set(values) - top_known)
    if "policy" in unknown:
        raise InputError(f"{where} is an active-matting policy config ([policy]); train it with "
                         f"python -m mattebox.active.reinforce --config {where} --out DIR")
    if unknown:
        raise InputError(f"unknown top-level key(s) {', '.join(unknown)} in {where}; "
                         f"known: {', '.join(sorted(top_known))}")
    for section in sorted(top_known - {"name", "seed"}):
        if section in values and not isinstance(values[section], dict):
            raise InputError(f"{section} in {where} must be a table ([{section}] with keys under "
                             f"it), not {values[section]!r}")
    model = values.get("model", {"name": "dim"})
    if "name" not in model:
        raise InputError(f"[model] in {where} needs a name, e.g. name = \"dim\"")
    _check_type(f"seed in {where}", values.get("seed", 0), 0)
    _check_type(f"name in {where}", values.get("name", "run"), "run")
    config = Config(
        name=str(values.get("name", "run")),
        seed=int(values.get("seed", 0)),
        model=dict(model),
        objective=dict(values.get("objective", {})),
        **{key: _section(cls, values.get(key, {}), key) for key, cls in _SECTIONS.items()},
    )
    validate(config, where)
    return config


def validate(config: Config, where: str = "config") -> None:
    """Raise :class:`InputError` on values that cannot work."""
    if config.data.crop_size <= 0 or config.data.crop_size % 32:
        raise InputError(f"[data] crop_size in {where} is {config.data.crop_size}; use a positive "
                         "multiple of 32 (e.g. 320)")
    if config.train.batch_size < 1 or config.train.max_steps < 0:
        raise InputError(f"[train] batch_size must be >= 1 and max_steps >= 0 in {where}")
    if config.schedule.name not in ("constant", "poly", "cosine"):
        raise InputError(f"[schedule] name {config.schedule.name!r} in {where}: use constant, poly or cosine")
    if config.optim.name not in ("adam", "adamw", "sgd"):
        raise InputError(f"[optim] name {config.optim.name!r} in {where}: use adam, adamw or sgd")
    if config.eval.best_on not in ("dev", "synthetic"):
        raise InputError(f"[eval] best_on in {where} must be 'dev' or 'synthetic'")
    if config.eval.norm_stats not in ("running", "image"):
        raise InputError(f"[eval] norm_stats in {where} must be 'running' or 'image', not {config.eval.norm_stats!r}")
    if config.train.init_output not in ("keep", "hints"):
        raise InputError(f"[train] init_output in {where} must be 'keep' or 'hints', not {config.train.init_output!r}")


def load_config(path: str | os.PathLike) -> Config:
    """Read a TOML training config (see the module docstring)."""
    return from_dict(read_config_values(path), where=str(path))


def read_config_values(path: str | os.PathLike) -> dict[str, Any]:
    """The nested dict of a TOML config file; InputError for a missing, binary or bad file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"config file {path} is a folder; pass a .toml file, e.g. "
                         f"configs/dim_small.toml") from None
    except UnicodeDecodeError:
        raise InputError(f"config file {path} is not text (not UTF-8); pass a TOML config, e.g. "
                         f"configs/dim_small.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    return values


def shared_data_dir() -> Path:
    """The shared real data: $MATTEBOX_SHARED_DATA, else ``../shared/data`` beside the repository."""
    env = os.environ.get("MATTEBOX_SHARED_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]  # src/mattebox/train/config.py -> repository
    return repo.parent / "shared" / "data"


def resolve_dir(value: str, default_under_shared: str) -> Path | None:
    """``value`` as a path; "" means ``<shared data>/<default_under_shared>``, "none" means None."""
    if value.lower() == "none":
        return None
    if value:
        return Path(value).expanduser()
    return shared_data_dir() / default_under_shared
