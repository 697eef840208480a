"""REINFORCE training of the active-matting policy (Yang et al. 2018, Section 2.3).

Each update runs ``batch`` episodes (M in Eq. 6) of ``steps`` regions (T). At step i the policy
predicts l_hat_i and a baseline b_i from v_i; S = ``samples`` locations are drawn from
N(l_hat_i, Omega^2 I) (Section 2.3, S = 2 in training); the simulated user answers each and the
solver gives each one's matte; Eq. 7 gives the rewards (skipped regions none); the best
candidate continues the episode and its matte and location are fed back through the joint
encoding net. The loss is

    L = 1/M sum_m sum_i sum_j mask (R_ij - b_i) (-log N(l~_ij; l_hat_i, Omega^2))      (Eq. 6)
        + 1/M sum_m sum_i sum_j mask (R_ij - b_i)^2                    (the baseline's fit)

with (R - b) held constant in the first term, plus a small penalty sum max(|l_hat| - 1, 0)^2
that keeps the (unbounded, see :mod:`.policy`) predicted locations near the image. Adam, learning rate 1e-3 decaying exponentially
to 1e-4 over the run (Section 3.1), gradient norm clipped (the paper "crops the gradients";
we clip the global norm at ``clip_grad_norm``).

Episodes are a pure function of (seed, update index): which scene, whether it is mirrored and
the exploration noise, so a run resumed from a checkpoint continues as an uninterrupted one.

Run ``python -m mattebox.active.reinforce --config configs/active_small.toml --out DIR``;
``--export FILE`` writes the best policy as a weights file for :func:`~.policy.load_policy`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..train.checkpoint import safe_torch_load
from .environment import ActiveEnvironment, location_for, region_size_for, resize_alpha, resize_image
from .policy import ANSWER_CODES, ActivePolicy, PolicyConfig, build_policy
from .reward import best_candidate, region_rewards
from .scenes import solid_scenes


#: Weight of the penalty on predicted locations outside [-1, 1].
OUTSIDE_WEIGHT = 1.0


@dataclass
class TrainConfig:
    """Every knob of a training run (the TOML file's ``[train]`` table)."""

    #: Number of updates; each runs ``batch`` episodes.
    updates: int = 1000
    #: Episodes per update (M in Eq. 6).
    batch: int = 4
    #: Regions per episode (T).
    steps: int = 10
    #: Candidate regions drawn per step (S; the paper: 2 in training).
    samples: int = 2
    lr: float = 1e-3
    lr_min: float = 1e-4
    clip_grad_norm: float = 1.0
    #: Side of the square image the environment works at (the paper: 400); regions scale.
    work_size: int = 400
    #: Registered matte solver in the loop (the paper: shared matting).
    solver: str = "sm"
    seed: int = 0
    #: Training scenes (procedural objects over the train photos) and their first seed.
    scenes: int = 200
    scene_seed: int = 0
    #: Keep only the training scenes with at least this many fully opaque and this many fully
    #: clear regions of the 20 x 20 tiling at 400 x 400 (ours; 0 keeps all). The benchmark's
    #: objects all have a solid body (10 to 181 opaque regions), while a fifth of the
    #: procedural scenes (smoke, veils, nets) have no opaque region at all: there the teacher
    #: can only ask about the background, and a policy cloned on them learned to go on asking
    #: about the background of photos whose foreground it had not found.
    min_solid_cells: int = 0
    #: Validation scenes (validation photos, other seeds), scored every ``validate_every``.
    val_scenes: int = 8
    val_scene_seed: int = 1_000_000
    validate_every: int = 50
    checkpoint_every: int = 10
    #: Regions per validation episode (the benchmark's 20).
    val_steps: int = 20
    #: Warm start (not in the paper, see mattebox.active.imitation): clone a greedy teacher on
    #: the first ``teacher_scenes`` training scenes for ``clone_epochs`` epochs before
    #: REINFORCE; 0 scenes trains from scratch as the paper does.
    teacher_scenes: int = 0
    #: Before cloning, epochs of feature pretraining on the training scenes' coarse alpha
    #: (mattebox.active.imitation.pretrain_features); 0: none.
    feature_pretrain_epochs: int = 0
    teacher_candidates: int = 8
    #: When > 0, the teacher asks only among the cells a policy with PolicyConfig.candidates
    #: = this many chooses among first, while any qualifies (ours; 0: anywhere).
    teacher_cells: int = 0
    clone_epochs: int = 60
    clone_lr: float = 1e-3
    #: Start from this weights file instead of cloning (e.g. an earlier run's export).
    init: str = ""
    #: DAgger after the warm start: in each round the policy drives on ``dagger_scenes``
    #: training scenes, the teacher labels its states, and the policy is cloned on the teacher
    #: data plus these for ``dagger_epochs`` epochs (mattebox.active.imitation.dagger_data).
    dagger_scenes: int = 0
    dagger_epochs: int = 45
    dagger_lr: float = 3e-4
    #: Rounds of DAgger; round r drives on the training scenes from
    #: ``dagger_offset + r * dagger_scenes`` on (wrapping), and every round is cloned on the
    #: teacher data plus all the DAgger data so far (Ross et al. 2011 aggregate).
    dagger_rounds: int = 1
    dagger_offset: int = 0
    #: Probability that a DAgger step drives to a random region instead of the policy's.
    dagger_explore: float = 0.0


@dataclass
class RunConfig:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.to_dict(), "train": asdict(self.train)}


def load_run_config(path: str | Path) -> RunConfig:
    """Read a TOML file with ``[policy]`` (PolicyConfig keys) and ``[train]`` (TrainConfig keys)."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(values) - {"policy", "train"})
    if unknown:
        raise InputError(f"{path}: unknown table(s) {', '.join(unknown)}; use [policy] and [train]")
    policy = values.get("policy", {})
    base = policy.pop("base", "small") if isinstance(policy, dict) else "small"
    from .policy import CONFIGS

    if base not in CONFIGS:
        raise InputError(f"{path}: [policy] base must be one of {', '.join(CONFIGS)}, not {base!r}")
    policy_config = PolicyConfig.from_dict({**CONFIGS[base].to_dict(), **policy})
    train = values.get("train", {})
    unknown = sorted(set(train) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise InputError(f"{path}: unknown [train] key(s) {', '.join(unknown)}")
    return RunConfig(policy_config, TrainConfig(**train))


def learning_rate(update: int, config: TrainConfig) -> float:
    """lr * (lr_min / lr) ** (update / updates): exponential decay from lr to lr_min."""
    fraction = min(max(update / max(config.updates, 1), 0.0), 1.0)
    return config.lr * (config.lr_min / config.lr) ** fraction


def reinforce_loss(log_probs: torch.Tensor, rewards: torch.Tensor, baselines: torch.Tensor,
                   mask: torch.Tensor, episodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy term of Eq. 6 and the baseline's squared error, each divided by M.

    All tensors have one entry per (episode, step, sample); ``baselines`` is b_i repeated over
    the samples of step i; ``mask`` is 0 for skipped regions (no reward, Section 2.3).
    """
    advantage = (rewards - baselines).detach()
    policy_loss = -(mask * advantage * log_probs).sum() / episodes
    baseline_loss = (mask * (rewards - baselines) ** 2).sum() / episodes
    return policy_loss, baseline_loss


def run_episodes(policy: ActivePolicy, envs: Sequence[ActiveEnvironment], images: torch.Tensor,
                 steps: int, samples: int, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    """Run one batch of training episodes; returns the loss (Eq. 6 + baseline fit) and statistics."""
    batch = len(envs)
    for env in envs:
        env.reset()
    start = [env.rmse for env in envs]
    state = policy.begin(images)
    log_probs, rewards, baselines, masks = [], [], [], []
    outside = torch.zeros(())
    skipped = 0
    for _ in range(steps):
        means, baseline = policy.head(state)
        outside = outside + policy.outside_penalty(means)
        draws = policy.explore(means, samples, generator)
        chosen_locations, chosen_mattes, chosen_answers = [], [], []
        step_rewards = np.zeros((samples, batch))
        step_masks = np.zeros((samples, batch))
        for b, env in enumerate(envs):
            proposals = [env.propose(draws[j, b].tolist()) for j in range(samples)]
            errors = [p.rmse if p.answer != "skip" else None for p in proposals]
            r, m = region_rewards(env.rmse, errors)
            step_rewards[:, b], step_masks[:, b] = r, m
            skipped += int((~m).sum())
            best = proposals[best_candidate(errors)]
            env.commit(best)
            chosen_locations.append(location_for(best.top, best.left, env.shape, env.region_size))
            chosen_mattes.append(torch.as_tensor(np.asarray(best.matte, dtype=np.float32)))
            chosen_answers.append(ANSWER_CODES[best.answer])
        log_probs.append(torch.stack([policy.log_prob(draws[j], means) for j in range(samples)]))
        rewards.append(torch.as_tensor(step_rewards, dtype=torch.float32))
        masks.append(torch.as_tensor(step_masks, dtype=torch.float32))
        baselines.append(baseline.unsqueeze(0).expand(samples, batch))
        locations = torch.tensor(chosen_locations, dtype=torch.float32)
        state = policy.observe(state, locations, torch.stack(chosen_mattes).unsqueeze(1),
                               torch.tensor(chosen_answers, dtype=torch.float32))
    policy_loss, baseline_loss = reinforce_loss(
        torch.stack(log_probs), torch.stack(rewards), torch.stack(baselines), torch.stack(masks), batch
    )
    outside = OUTSIDE_WEIGHT * outside / batch
    stats = {
        "policy_loss": float(policy_loss.detach()),
        "baseline_loss": float(baseline_loss.detach()),
        "reward": float(torch.stack(rewards).sum() / max(float(torch.stack(masks).sum()), 1.0)),
        "skipped": skipped / (steps * samples * batch),
        "rmse_start": float(np.mean(start)),
        "rmse_end": float(np.mean([env.rmse for env in envs])),
    }
    return policy_loss + baseline_loss + outside, stats


def evaluate_policy(policy: ActivePolicy, images: np.ndarray, alphas: np.ndarray, solver: str,
                    steps: int, region_size: int) -> list[list[float]]:
    """RMSE after each of ``steps`` deterministic suggestions (S = 1), per scene."""
    from .policy import LearnedStrategy

    curves = []
    strategy = LearnedStrategy(policy)
    for image, alpha in zip(images, alphas):
        env = ActiveEnvironment(image.astype(np.float64), solver, alpha.astype(np.float64), region_size)
        strategy.reset(env.image)
        curve = []
        for _ in range(steps):
            top, left = strategy.suggest(env)
            step = env.try_answer(top, left, env.oracle(top, left))
            env.commit(step)
            strategy.observe(env, step)
            curve.append(env.rmse)
        curves.append(curve)
    return curves


def _atomic_save(payload: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_policy(policy: ActivePolicy, path: str | Path, extra: dict | None = None) -> Path:
    """Write a weights file: the policy config, its state and ``extra`` (provenance)."""
    path = Path(path)
    _atomic_save({"policy_config": policy.config.to_dict(), "model_state": policy.state_dict(),
                  **(extra or {})}, path)
    return path


def _prepare(images: np.ndarray, alphas: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    if images.shape[1] == size:
        return images, alphas
    return (np.stack([resize_image(i, size) for i in images]).astype(np.float32),
            np.stack([resize_alpha(a, size) for a in alphas]).astype(np.float32))


def train(config: RunConfig, out_dir: str | Path, log: Callable[[str], None] = print,
          cache_dir: str | Path | None = None, command: str = "") -> Path:
    """Train (or resume) a policy in ``out_dir``; returns the path of the best checkpoint.

    ``out_dir`` receives ``last.pt`` (resumable), ``best.pt`` (best validation area under the
    RMSE curve) and ``log.jsonl`` (one line per update, plus validation lines).
    """
    from .scenes import scene_pool

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tc = config.train
    if tc.samples < 2:
        raise InputError("training needs at least S = 2 samples per step (Section 2.3: with S = 1 "
                         "every answered region earns 1)")
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    images, alphas = scene_pool(tc.scenes, tc.scene_seed, split="train", cache_dir=cache, log=log)
    val_images, val_alphas = scene_pool(tc.val_scenes, tc.val_scene_seed, split="validation",
                                        cache_dir=cache, log=log)
    if tc.min_solid_cells > 0:
        keep = solid_scenes(alphas, tc.min_solid_cells)
        log(f"{int(keep.sum())} of {len(keep)} training scenes have at least {tc.min_solid_cells} "
            "opaque and clear regions")
        if not keep.any():
            raise InputError(f"none of the {len(keep)} training scenes has {tc.min_solid_cells} opaque "
                             "and clear regions; lower min_solid_cells or raise scenes")
        images, alphas = images[keep], alphas[keep]
    work_images, work_alphas = _prepare(images, alphas, tc.work_size)
    val_work = _prepare(val_images, val_alphas, tc.work_size)
    region = region_size_for(tc.work_size)
    torch.manual_seed(tc.seed)
    policy = build_policy(config.policy)
    optimiser = torch.optim.Adam(policy.parameters(), lr=tc.lr)
    update, best = 0, {"score": math.inf, "update": -1}
    last = out / "last.pt"
    if last.is_file():
        payload = safe_torch_load(last)
        if payload["config"] != config.to_dict():
            raise InputError(f"{last} was written with another config; use a new --out folder")
        policy.load_state_dict(payload["model_state"])
        optimiser.load_state_dict(payload["optimizer_state"])
        update, best = payload["update"], payload["best"]
        log(f"resumed from {last} at update {update}")
    log_file = (out / "log.jsonl").open("a")
    mattes_per_update = tc.batch * tc.steps * tc.samples
    log(f"policy {config.policy.name}: {sum(p.numel() for p in policy.parameters())} parameters; "
        f"{tc.updates} updates x {tc.batch} episodes x {tc.steps} steps x S={tc.samples} "
        f"({mattes_per_update} solver calls per update, {tc.solver} at {tc.work_size}px)")

    def save(path: Path) -> None:
        _atomic_save({"config": config.to_dict(), "model_state": policy.state_dict(),
                      "optimizer_state": optimiser.state_dict(), "update": update, "best": best,
                      "command": command}, path)

    def validate() -> None:
        nonlocal best
        policy.eval()
        curves = np.array(evaluate_policy(policy, *val_work, tc.solver, tc.val_steps, region))
        policy.train()
        score = float(curves.mean())  # area under the mean RMSE curve / steps
        record = {"update": update, "val_auc": score,
                  "val_rmse": {k: float(curves[:, k - 1].mean()) for k in (1, 5, 10, 15, 20) if k <= tc.val_steps}}
        if score < best["score"]:
            best = {"score": score, "update": update, "val": record["val_rmse"]}
            save(out / "best.pt")
        log_file.write(json.dumps({"validation": record}) + "\n")
        log_file.flush()
        log(f"validation at update {update}: mean RMSE over steps {score:.4f}; {record['val_rmse']} "
            f"(best {best['score']:.4f} at {best['update']})")

    if update == 0 and tc.init:
        from .policy import load_policy

        policy.load_state_dict(load_policy(tc.init).state_dict())
        log(f"starting from {tc.init}")
    if update == 0 and tc.dagger_scenes > 0 and tc.teacher_scenes <= 0:
        raise InputError("DAgger rounds clone on the teacher data as well: set teacher_scenes > 0 "
                         "with dagger_scenes")
    if update == 0 and tc.teacher_scenes > 0:
        from .imitation import clone, teacher_data

        count = min(tc.teacher_scenes, len(images))
        log(f"teacher sequences on {count} scenes ({tc.teacher_candidates} solver calls per step)")
        cells = None
        if tc.teacher_cells > 0:
            cells = (tc.teacher_cells, policy.config.image_size, policy.config.grid)
            if policy.config.candidate_spread > 0.0:  # (the cache keys of 0 stay as they were)
                cells += (float(policy.config.candidate_spread),)
        data = teacher_data(images[:count], alphas[:count], tc.work_size, tc.steps, tc.solver,
                            tc.teacher_candidates, cache_dir=cache, log=log, cells=cells)
        torch.manual_seed(tc.seed)
        if not tc.init:  # a policy from init is already warm
            if tc.feature_pretrain_epochs > 0:
                from .imitation import pretrain_features

                pretrain_features(policy, work_images, work_alphas, tc.feature_pretrain_epochs,
                                  seed=tc.seed, log=log)
            clone(policy, data, tc.clone_epochs, lr=tc.clone_lr, seed=tc.seed, log=log)
            save(out / "cloned.pt")
    if update == 0 and tc.dagger_scenes > 0:
        from .imitation import clone, dagger_data

        count = min(tc.dagger_scenes, len(images))
        merged = dict(data, targets=data["locations"])
        for round_ in range(tc.dagger_rounds):
            picks = (tc.dagger_offset + round_ * count + np.arange(count)) % len(images)
            log(f"DAgger round {round_ + 1}/{tc.dagger_rounds}: the policy drives on {count} scenes, "
                "the teacher labels its states")
            extra = dagger_data(policy, images[picks], alphas[picks], tc.work_size, tc.steps, tc.solver,
                                tc.teacher_candidates, log=log, explore=tc.dagger_explore,
                                seed=tc.seed + round_)
            merged = {k: np.concatenate([merged[k], extra[k]]) for k in ("images", "locations", "mattes", "targets")}
            clone(policy, merged, tc.dagger_epochs, lr=tc.dagger_lr, seed=tc.seed + 1 + round_, log=log)
            save(out / f"dagger{round_ + 1}.pt")
    if update == 0:
        validate()
    policy.train()
    while update < tc.updates:
        began = time.perf_counter()
        rng = np.random.default_rng([tc.seed, update])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        picks = rng.integers(len(work_images), size=tc.batch)
        flips = rng.random(tc.batch) < 0.5
        batch_images = [work_images[i][:, ::-1] if f else work_images[i] for i, f in zip(picks, flips)]
        batch_alphas = [work_alphas[i][:, ::-1] if f else work_alphas[i] for i, f in zip(picks, flips)]
        envs = [ActiveEnvironment(np.ascontiguousarray(im, np.float64), tc.solver,
                                  np.ascontiguousarray(al, np.float64), region)
                for im, al in zip(batch_images, batch_alphas)]
        lr = learning_rate(update, tc)
        for group in optimiser.param_groups:
            group["lr"] = lr
        loss, stats = run_episodes(policy, envs, policy.image_tensor(np.stack(batch_images)),
                                   tc.steps, tc.samples, generator)
        optimiser.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), tc.clip_grad_norm)
        optimiser.step()
        update += 1
        stats.update(update=update, lr=lr, grad_norm=float(norm), seconds=time.perf_counter() - began)
        log_file.write(json.dumps(stats) + "\n")
        log_file.flush()
        if update % 10 == 0 or update == 1:
            log(f"update {update}/{tc.updates}: reward {stats['reward']:+.3f}, skipped "
                f"{stats['skipped']:.2f}, RMSE {stats['rmse_start']:.3f} -> {stats['rmse_end']:.3f}, "
                f"lr {lr:.2e}, {stats['seconds']:.1f}s")
        if update % tc.checkpoint_every == 0 or update == tc.updates:
            save(last)
        if update % tc.validate_every == 0 or update == tc.updates:
            validate()
    log_file.close()
    return out / "best.pt"


def export_checkpoint(checkpoint: str | Path, path: str | Path, command: str = "") -> Path:
    """Turn a training checkpoint into a weights file (policy config + weights + provenance)."""
    payload = safe_torch_load(checkpoint)
    config = payload["config"]
    policy = build_policy(config["policy"])
    policy.load_state_dict(payload["model_state"])
    return export_policy(policy, path, {
        "train_config": config, "update": payload["update"], "validation": payload["best"],
        "train_command": command or payload.get("command", ""),
    })


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mattebox.active.reinforce", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="TOML file with [policy] and [train]")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, log.jsonl); resumes if present")
    parser.add_argument("--export", help="write the best policy here as a weights file when done")
    parser.add_argument("--cache", help="folder for the generated scenes (default OUT/cache)")
    parser.add_argument("--threads", type=int, default=1, help="torch / numba threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    command = "python -m mattebox.active.reinforce " + " ".join(sys.argv[1:] if argv is None else argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    try:
        config = load_run_config(args.config)
        best = train(config, args.out, log=log, cache_dir=args.cache, command=command)
        if args.export:
            export_checkpoint(best, args.export, command)
            log(f"exported {best} to {args.export}")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
