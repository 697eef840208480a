"""The training loop: steps, logs, checkpoints, periodic evaluation and the best checkpoint.

A run writes into its output folder:

- ``last.pt``: the latest checkpoint (every ``[train] checkpoint_every`` steps and at the
  end), from which ``--resume`` continues exactly; ``step_NNNNNNN.pt`` copies every
  ``keep_every`` steps; ``best.pt``: the checkpoint with the best evaluation score.
- ``train_log.csv``: step, learning rate, loss and its parts (means over the last
  ``log_every`` steps and all processes), samples per second, elapsed seconds.
- ``eval_log.csv``: step, evaluation set, mean SAD / MSE / Grad / Conn / RMSE.
- ``tensorboard/``: the same scalars for TensorBoard.
- ``config.toml``: the config the run was started with.

A model package provides the network (``build_model``) and an objective (``build_objective``)
with ``param_groups()``, ``lr_factor(group, step)``, ``set_train_mode(model, step)``,
``loss(network, batch, step) -> (loss, parts)`` and ``find_unused_parameters``; see
:class:`mattebox.models.dim.training.DIMObjective`.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import models
from ..errors import InputError
from . import checkpoint as ckpt
from . import distributed, schedules
from .config import Config, from_dict, resolve_dir
from .dataset import EvalImage, load_eval_folder, training_loader

METRICS = ("sad", "mse", "grad", "conn", "rmse")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation uses torch's generator)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class CsvLog:
    """A CSV file with a fixed header; on resume, rows past the resumed step are dropped."""

    def __init__(self, path: Path, columns: list[str], resume_step: int | None) -> None:
        self.path, self.columns = path, columns
        rows: list[dict] = []
        if resume_step is not None and path.is_file():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )


#: Model options that ``[train] init`` may turn on over weights trained without them.
GROWABLE_OPTIONS = ("colour_hints", "hint_skip")
#: Model options that ``[train] init`` may change, with the value a file that names none has:
#: they change what the inputs hold, not the weights' shapes (DIM's ``hint_source``).
SWITCHABLE_OPTIONS = {"hint_source": "pushpull"}


class Trainer:
    """Trains ``config``'s model into ``out_dir`` (see the module docstring).

    ``stop_at`` ends the run after that many steps in total while the learning-rate schedule
    still spans ``[train] max_steps`` (for training in chunks); ``resume`` continues from
    ``out_dir/last.pt``.
    """

    def __init__(self, config: Config, out_dir: str | Path, *, resume: bool = False,
                 stop_at: int | None = None, device: str | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.process = distributed.setup(device or config.train.device)
        self.device = self.process.device
        self.log = log if log is not None else (lambda text: print(text, file=sys.stderr, flush=True))
        self.progress = progress
        if config.train.threads > 0 and self.device.type == "cpu":
            torch.set_num_threads(config.train.threads)
        self.max_steps = config.train.max_steps
        self.stop_at = self.max_steps if stop_at is None else min(stop_at, self.max_steps)

        seed_everything(config.seed)
        try:
            network = models.build_model(config.model_name, **config.model_options)
        except (TypeError, ValueError) as exc:  # an unknown or inconsistent [model] option
            raise InputError(f"[model] of config {config.name!r}: {exc}") from None
        self.model = network.to(self.device)
        self.objective = models.build_objective(config.model_name, self.model, **config.objective)
        self.optimizer = schedules.build_optimizer(config.optim, self.objective.param_groups())
        self.scheduler = schedules.build_scheduler(self.optimizer, config.schedule, self.max_steps,
                                                   self.objective.lr_factor)
        self.use_amp = config.train.amp and self.device.type == "cuda"
        self.amp_dtype = torch.float16 if config.train.amp_dtype == "float16" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.step = 0
        self.best: dict[str, Any] = {}
        self.losses: list[float] = []  # this process's loss at every step of this session
        self.resumed_from: int | None = None
        if resume:
            self._resume()
        elif config.train.init:
            self._init_from(config.train.init)
            if config.train.init_output == "hints":
                self._start_from_hints()
        self.network = distributed.wrap(self.model, self.process, self.objective.find_unused_parameters)
        self._eval_sets: dict[str, list[EvalImage]] | None = None

    # -- checkpoints -------------------------------------------------------------------------

    def _init_from(self, path: str) -> None:
        """Weights of ``path``; from a model without the options of :data:`GROWABLE_OPTIONS` that
        the config turns on, the model's ``load_grown_state_dict`` adds them at zero; those of
        :data:`SWITCHABLE_OPTIONS` may differ."""
        payload = models.read_weights(path)
        stored, wanted = dict(payload["options"]), dict(self.config.model_options)
        switched = [k for k, default in SWITCHABLE_OPTIONS.items()
                    if stored.get(k, default) != wanted.get(k, default)]
        for key in switched:
            stored.pop(key, None)
            wanted.pop(key, None)
        grown = [k for k in GROWABLE_OPTIONS if wanted.get(k) and not stored.get(k)]
        if (payload["model"] == self.config.model_name and grown and hasattr(self.model, "load_grown_state_dict")
                and {k: v for k, v in stored.items() if k not in grown}
                == {k: v for k, v in wanted.items() if k not in grown}):
            # the same network plus hint inputs or gate, which start at zero
            self.model.load_grown_state_dict(payload["state_dict"])
            self.log(f"initialised the model from {path} ({', '.join(grown)} added, starting at zero)")
            return
        if payload["model"] != self.config.model_name or stored != wanted:
            raise InputError(
                f"[train] init = {path!r} holds a {payload['model']!r} model with options "
                f"{payload['options']}, but the config builds {self.config.model_name!r} with "
                f"{self.config.model_options}; point init at weights of the same model"
            )
        self.model.load_state_dict(payload["state_dict"])
        changed = f" ({', '.join(f'{k} = {self.config.model_options.get(k)!r}' for k in switched)})" if switched else ""
        self.log(f"initialised the model from {path}{changed}")

    def _start_from_hints(self) -> None:
        """``[train] init_output = "hints"``: the loaded network's own output silenced."""
        start = getattr(self.model, "start_from_hints", None)
        if start is None:
            raise InputError(f"[train] init_output = 'hints' needs a model that takes hints; "
                             f"{self.config.model_name!r} does not (use 'keep')")
        try:
            start()
        except ValueError as exc:
            raise InputError(f"[train] init_output = 'hints': {exc}") from None
        self.log("the network's own output silenced: it starts from its hints' alpha")

    def _resume(self) -> None:
        state = ckpt.load_checkpoint(self.out_dir / "last.pt")
        stored = from_dict(state["config"], where="the checkpoint")
        if stored.model != self.config.model:
            raise InputError(
                f"the checkpoint in {self.out_dir} was trained with [model] {stored.model}, but the "
                f"config asks for {self.config.model}; resume with the original config or use a new --out"
            )
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        self.scheduler.load_state_dict(state["scheduler_state"])
        if state.get("scaler_state") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler_state"])
        self.step = int(state["step"])
        self.best = dict(state.get("best") or {})
        ckpt.restore_rng_states(state["rng"])
        self.resumed_from = self.step

    def save(self, path: Path | None = None) -> Path:
        return ckpt.save_checkpoint(
            path or self.out_dir / "last.pt", model=self.model, optimizer=self.optimizer,
            scheduler=self.scheduler, scaler=self.scaler, step=self.step,
            config=self.config.to_dict(), best=self.best,
        )

    # -- evaluation --------------------------------------------------------------------------

    def eval_sets(self) -> dict[str, list[EvalImage]]:
        """The evaluation cases: alphamatting-dev (both trimaps) and the synthetic test set."""
        if self._eval_sets is None:
            cfg = self.config.eval
            sets: dict[str, list[EvalImage]] = {}
            dev = resolve_dir(cfg.dev_dir, "alphamatting-dev")
            if dev is not None and (dev / "image").is_dir():
                sets["dev"] = load_eval_folder(dev, tuple(cfg.dev_trimaps))
            elif dev is not None:
                self.log(f"evaluation: {dev} not found, alphamatting-dev skipped")
            if cfg.synthetic_count > 0:
                try:
                    folder = synthetic_test_set(self.out_dir.parent / "synthetic_test")
                    sets["synthetic"] = load_eval_folder(folder, ("trimap",), cfg.synthetic_count, "_0")
                except (ImportError, InputError) as exc:
                    self.log(f"evaluation: synthetic test set unavailable ({exc})")
            self._eval_sets = sets
        return self._eval_sets

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Mean metrics per evaluation set (and per trimap folder of a set)."""
        from .. import metrics

        results: dict[str, dict[str, float]] = {}
        for set_name, cases in self.eval_sets().items():
            groups: dict[str, list[dict[str, float]]] = {set_name: []}
            for case in cases:
                pred = self.model.predict(case.image, case.trimap, tile_size=self.config.eval.tile_size,
                                          device=self.device, norm_stats=self.config.eval.norm_stats)
                scores = metrics.all_metrics(pred, case.alpha, case.trimap)
                groups[set_name].append(scores)
                trimap_dir = case.name.split("/")[-1]
                groups.setdefault(f"{set_name}/{trimap_dir}", []).append(scores)
            for name, rows in groups.items():
                if rows and (name == set_name or len(groups) > 2):
                    results[name] = {m: float(np.mean([r[m] for r in rows])) for m in METRICS}
        return results

    def _score(self, results: dict[str, dict[str, float]]) -> float | None:
        cfg = self.config.eval
        order = [cfg.best_on] + [s for s in ("dev", "synthetic") if s != cfg.best_on]
        for name in order:
            if name in results:
                return results[name][cfg.best_metric]
        return None

    # -- the loop ----------------------------------------------------------------------------

    def _part_names(self) -> list[str]:
        return list(getattr(self.objective, "part_names", ()))

    def run(self) -> dict[str, Any]:
        """Train until ``stop_at`` steps are done; returns a summary."""
        cfg, main = self.config, self.process.is_main
        self.out_dir.mkdir(parents=True, exist_ok=True)
        train_log = eval_log = writer = None
        if main:
            _write_config(self.config, self.out_dir / "config.toml")
            train_log = CsvLog(self.out_dir / "train_log.csv",
                               ["step", "lr", "loss", *self._part_names(), "samples_per_s", "elapsed_s"],
                               self.resumed_from)
            eval_log = CsvLog(self.out_dir / "eval_log.csv", ["step", "set", *METRICS, "best"],
                              self.resumed_from)
            writer = _tensorboard(self.out_dir / "tensorboard", self.resumed_from)
        loader = training_loader(cfg.data, cfg.seed, cfg.train.batch_size, self.process.rank,
                                 self.process.world_size, self.step)
        batches = iter(loader)
        bar = _progress(self.step, self.stop_at, enabled=self.progress and main)
        window: list[tuple[float, dict[str, float]]] = []
        started = last_log = time.perf_counter()
        last_log_step = self.step
        autocast = (torch.autocast(device_type="cuda", dtype=self.amp_dtype) if self.use_amp
                    else nullcontext())
        while self.step < self.stop_at:
            batch = {k: v.to(self.device, non_blocking=True) for k, v in next(batches).items()}
            self.objective.set_train_mode(self.model, self.step)
            with autocast:
                loss, parts = self.objective.loss(self.network, batch, self.step)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"the loss became {value} at step {self.step}; lower [optim] lr or set grad_clip, "
                    f"then resume from {self.out_dir / 'last.pt'}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.optim.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            # the schedule's rate (groups may run at a multiple of it, or frozen at 0)
            lr = cfg.optim.lr * schedules.schedule_factor(cfg.schedule, self.step, self.max_steps)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.step += 1
            self.losses.append(value)
            window.append((value, parts))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", refresh=False)

            done = self.step == self.stop_at
            if self.step % cfg.train.log_every == 0 or done:
                now = time.perf_counter()
                rate = (self.step - last_log_step) * cfg.train.batch_size * self.process.world_size / (now - last_log)
                row = {"step": self.step, "lr": lr, "samples_per_s": rate, "elapsed_s": now - started,
                       "loss": distributed.mean_over_processes(float(np.mean([w[0] for w in window])), self.process)}
                for name in self._part_names():
                    values = [w[1][name] for w in window if name in w[1]]
                    local = float(np.mean(values)) if values else float("nan")
                    row[name] = distributed.mean_over_processes(local, self.process)
                if main:
                    train_log.write(row)
                    for key in ("loss", "lr", "samples_per_s", *self._part_names()):
                        if isinstance(row.get(key), float) and math.isfinite(row[key]):
                            writer.add_scalar(f"train/{key}", row[key], self.step)
                window, last_log, last_log_step = [], now, self.step

            if main and (self.step % cfg.train.checkpoint_every == 0 or done):
                self.save()
                if cfg.train.keep_every and self.step % cfg.train.keep_every == 0:
                    shutil.copyfile(self.out_dir / "last.pt", self.out_dir / f"step_{self.step:07d}.pt")
            if cfg.eval.every and (self.step % cfg.eval.every == 0 or done):
                paused = time.perf_counter()
                if main:
                    self._evaluate_and_log(eval_log, writer)
                distributed.barrier(self.process)
                last_log += time.perf_counter() - paused  # keep evaluation out of samples/s
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        return {"step": self.step, "losses": self.losses, "best": self.best,
                "out_dir": str(self.out_dir)}

    def _evaluate_and_log(self, eval_log: CsvLog, writer) -> None:
        began = time.perf_counter()
        results = self.evaluate()
        score = self._score(results)
        is_best = score is not None and (not self.best or score < self.best["score"])
        if is_best:
            self.best = {"score": score, "step": self.step, "metric": self.config.eval.best_metric,
                         "results": results}
            self.save()  # last.pt records the new best before best.pt is copied from it
            shutil.copyfile(self.out_dir / "last.pt", self.out_dir / "best.pt")
        for name, means in results.items():
            eval_log.write({"step": self.step, "set": name, **means, "best": int(is_best)})
            for metric, value in means.items():
                writer.add_scalar(f"eval_{name}/{metric}", value, self.step)
        summary = ", ".join(f"{name} SAD {m['sad']:.2f} MSE {m['mse']:.4f}" for name, m in results.items())
        self.log(f"step {self.step}: {summary or 'no evaluation data'}"
                 f"{' (best)' if is_best else ''} [{time.perf_counter() - began:.0f} s]")


def synthetic_test_set(folder: Path) -> Path:
    """The seeded synthetic test set (:mod:`mattebox.data.composition`), made once in ``folder``."""
    from ..data import composition

    return Path(composition.ensure_test_set(folder))


def _write_config(config: Config, path: Path) -> None:
    import tomli_w

    path.write_text(tomli_w.dumps(config.to_dict()))


def _tensorboard(folder: Path, purge_step: int | None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: keep the CSV logs only
        return _NullWriter()
    return SummaryWriter(str(folder), purge_step=purge_step)


class _NullWriter:
    def add_scalar(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(initial: int, total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    interval = 0.5 if sys.stderr.isatty() else 60.0  # a log file gets a line a minute
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=interval,
                maxinterval=max(interval, 10.0), file=sys.stderr)


def export_weights(checkpoint_path: str | Path, out_path: str | Path) -> Path:
    """Write the model of a training checkpoint as a weights file (:func:`mattebox.models.save_weights`)."""
    state = ckpt.load_checkpoint(Path(checkpoint_path))
    config = from_dict(state["config"], where=str(checkpoint_path))
    model = models.build_model(config.model_name, **config.model_options)
    model.load_state_dict(state["model_state"])
    meta = {"step": state["step"], "config_name": config.name, "best": _plain_best(state.get("best")),
            "norm_stats": config.eval.norm_stats}  # the statistics it was evaluated (and picked) with
    return models.save_weights(out_path, config.model_name, config.model_options, model, meta)


def _plain_best(best: dict | None) -> dict:
    if not best:
        return {}
    return {"score": float(best["score"]), "step": int(best["step"]), "metric": str(best["metric"]),
            "results": {k: {m: float(v) for m, v in d.items()} for k, d in best["results"].items()}}
