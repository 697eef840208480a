"""Active matting on alphamatting-dev: mean RMSE after 1, 5, 10, 15 and 20 regions.

Rows (all on the images and ground truths resized to 400 x 400, as the paper does, Section
3.1; RMSE of Eq. 2 over every pixel of the 400 x 400 matte):

* the learned policy (S = 1, mean location) with shared matting ``sm`` in the loop;
* the baselines of Section 3.1 with ``sm``: B1 ideal sequence (greedy search over region
  corners on a grid of ``--stride`` pixels, 20 by default, up to 400 candidates per step, at
  400 x 400 in ``--workers`` processes, about an hour on two cores; ``--ideal-search`` searches
  a shrunk copy instead, faster but weaker: see BENCHMARKS.md, "B1 at finer grids"), B2
  Region-CNN (one network per N), B3 clustering (k = N colour/position clusters), B4 random
  (mean over ``--random-seeds`` seeds);
* the learned sequence (its regions and answers) re-used with ``cf``, ``knn`` and ``ifm``
  (the paper's Fig. 3d);
* the cells the learned policy chooses among (``PolicyConfig.candidates``, coarse-to-fine
  cluster levels) asked without it, biggest cluster first and in random orders: what the
  policy's own order adds;
* every solver with the benchmark's trimap (the small one, "trimap") for reference;
* every solver after every region the simulated user can answer (block ``pure``): all the
  pure cells of the 20 x 20 tiling, and every pixel that some pure 20 x 20 window covers, the
  most that answers to regions of this size can label however many are asked
  (:func:`mattebox.active.baselines.every_pure_region_trimap`);
* a held-out check (block ``synthetic``): the learned policy, B3 and B4 on ``--synthetic-scenes``
  procedural scenes over the validation photos, seeds no training run or choice has used, at
  ``--synthetic-size`` (100 px, 5 x 5 regions, as in training);
* seconds per suggestion: policy forward + solver update after the answer, at 400 x 400;
* the solver run on a copy shrunk to ``--fast-size`` (block ``fast``, ``ActiveSession``'s
  ``solve_size``): the learned policy, B3, B4 and the trimap, and the learned policy's seconds
  per suggestion;
* strokes (beyond the paper): after the learned policy's 20 regions, ``--extra`` more regions
  from it against ``--extra`` strokes of a simulated person
  (:meth:`~mattebox.active.environment.ActiveEnvironment.oracle_stroke`: radius 2, up to 40
  pixels long, over the worst wrong pure pixels), and against ``--extra`` regions the same
  simulated person picks where the matte is worst.

A suggestion the simulated user cannot answer (fractional alpha) still counts as a region
asked: "after k regions" means after k questions.

Each block of results is cached as JSON in ``--out`` (default ``runs/active_bench``) so a long
run (B1) can be resumed, together with what it depends on: the solvers' revisions (see
:class:`mattebox.registry.MethodSpec`) and, for the policy's blocks, the contents of the
weights file and the candidate cells. A cached block whose dependencies differ is computed
again; ``--force`` recomputes everything. The plot goes to ``docs/active_rmse.png``.

    python benchmarks/active.py                      # everything
    python benchmarks/active.py --only learned,random,cluster,trimap
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from method_entries import split_entry

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = (1, 5, 10, 15, 20)
BLOCKS = ("learned", "random", "cluster", "region-cnn", "ideal", "reuse", "trimap", "pure", "timing",
          "fast", "strokes", "cells", "synthetic")
#: First scene seed of the 'synthetic' block (training's scenes start at 0, its validation at
#: 1,000,000).
SYNTHETIC_SEED = 2_000_000


def default_data() -> Path:
    shared = Path(os.environ.get("MATTEBOX_SHARED_DATA", REPO.parent / "shared" / "data"))
    return shared / "alphamatting-dev"


def load_dev(data: Path, size: int):
    """(name, image, alpha, trimap) at ``size`` x ``size``; trimap resized by nearest neighbour."""
    import cv2

    from mattebox.active.environment import resize_alpha, resize_image
    from mattebox.io import read_alpha, read_image, read_trimap

    items = []
    for path in sorted((data / "image").glob("*.png")):
        name = path.stem
        image = resize_image(read_image(path), size)
        alpha = resize_alpha(read_alpha(data / "alpha" / f"{name}.png"), size)
        trimap = cv2.resize(read_trimap(data / "trimap" / f"{name}.png"), (size, size),
                            interpolation=cv2.INTER_NEAREST)
        items.append((name, image, alpha, trimap))
    if not items:
        raise SystemExit(f"no images in {data / 'image'}; pass --data DIR (alphamatting-dev layout)")
    return items


def run_sequence(image, alpha, strategy, solver: str, steps: int, region: int):
    """Run ``strategy`` for ``steps`` questions; per step: region, answer, RMSE, seconds."""
    from mattebox.active.environment import ActiveEnvironment

    env = ActiveEnvironment(image, solver, alpha, region)
    strategy.reset(image)
    records = []
    for k in range(steps):
        began = time.perf_counter()
        top, left = strategy.suggest(env)
        suggest_seconds = time.perf_counter() - began
        step = env.try_answer(top, left, env.oracle(top, left))
        env.commit(step)
        strategy.observe(env, step)
        records.append({"top": top, "left": left, "answer": step.answer, "rmse": env.rmse,
                        "suggest_seconds": suggest_seconds, "seconds": time.perf_counter() - began})
    return records


def regions_or_strokes(image, alpha, strategy, solver: str, steps: int, region: int, extra: int) -> dict:
    """RMSE after ``steps`` regions of ``strategy``, then, from that state, after each of
    ``extra`` more regions from it, ``extra`` regions the simulated person picks (the pure,
    unlabelled region of largest matte error) and ``extra`` simulated strokes (radius 2,
    <= 40 px)."""
    from mattebox.active.environment import ActiveEnvironment
    from mattebox.active.imitation import teacher_candidates

    env = ActiveEnvironment(image, solver, alpha, region)
    strategy.reset(image)

    def ask() -> float:
        top, left = strategy.suggest(env)
        step = env.try_answer(top, left, env.oracle(top, left))
        env.commit(step)
        strategy.observe(env, step)
        return env.rmse

    for _ in range(steps):
        ask()
    saved = env.trimap, env.matte, env.rmse, list(env.history)
    more = [ask() for _ in range(extra)]
    env.trimap, env.matte, env.rmse, env.history = saved
    chosen = []  # regions the simulated person picks like its strokes: the worst wrong, pure ones
    for _ in range(extra):
        worst = teacher_candidates(env, 1)
        if worst:
            env.commit(env.try_answer(*worst[0]))
        chosen.append(env.rmse)
    env.trimap, env.matte, env.rmse, env.history = saved
    painted, pixels = [], []
    for _ in range(extra):
        stroke = env.oracle_stroke(radius=2.0, max_length=40)
        if stroke is not None:
            env.commit(env.try_stroke(stroke))
            pixels.append(int(stroke.mask(env.shape).sum()))
        painted.append(env.rmse)
    return {"start": saved[2], "regions": more, "chosen_regions": chosen, "strokes": painted,
            "stroke_pixels": pixels}


class CandidateCells:
    """The cells the learned policy chooses among (``PolicyConfig.candidates``, its
    :class:`~mattebox.active.policy.CandidateLevels`) asked without the policy: the biggest
    uncovered cluster first, or in the random order of ``seed``; once no level has a cell
    left, any unasked cell at random."""

    name = "cells"

    def __init__(self, levels, seed: int | None = None) -> None:
        self.levels, self.seed = tuple(levels), seed

    def reset(self, image) -> None:
        import torch

        from mattebox.active.policy import RECORD, SMALL_CONFIG, CandidateLevels, cell_colours

        grid = SMALL_CONFIG.grid
        self.candidates = CandidateLevels.of(cell_colours(image, SMALL_CONFIG.image_size, grid), self.levels)
        self.record = torch.zeros(1, RECORD, grid * grid)
        self.rng = np.random.default_rng(self.seed or 0)

    def suggest(self, env):
        import torch

        from mattebox.active.policy import SMALL_CONFIG, cell_locations

        sizes = self.candidates.open_sizes(self.record)[0].numpy()
        cells = np.flatnonzero(sizes > 0)
        if cells.size == 0:
            cells = np.flatnonzero(self.record[0, 0].numpy() <= 0)
            cell = int(self.rng.choice(cells))
        elif self.seed is None:
            cell = int(cells[np.argmax(sizes[cells])])
        else:
            cell = int(self.rng.choice(cells))
        self.cell = cell
        return env.corner(cell_locations(torch.tensor(cell), SMALL_CONFIG.grid).tolist())

    def observe(self, env, step) -> None:
        self.record[0, 0, self.cell] = 1.0
        self.record[0, 1, self.cell] = float(step.answer == "fg")
        self.record[0, 2, self.cell] = float(step.answer == "bg")


def rmse_after_regions(image, alpha, regions, solver: str, region: int) -> float:
    """RMSE of ``solver`` on the trimap of the given (top, left, answer) regions."""
    from mattebox.active.environment import solve_matte
    from mattebox.metrics import rmse

    trimap = np.full(alpha.shape, 0.5)
    for top, left, answer in regions:
        if answer != "skip":
            trimap[top:top + region, left:left + region] = 1.0 if answer == "fg" else 0.0
    return rmse(solve_matte(image, trimap, solver_for(solver)), alpha)


def file_part(entry: str) -> str:
    """A ``--reuse-solvers`` entry as part of a file name (``sm_refine-laplacian``)."""
    return entry.replace(":", "_").replace("=", "-")


def solver_for(entry):
    """The solver of a ``--reuse-solvers`` entry: a registered name, optionally with options
    after colons (``sm:refine=laplacian``); a solver function is returned as it is."""
    from mattebox.active.environment import get_solver

    if callable(entry):
        return entry
    name, options = split_entry(entry)
    return get_solver(name, **options)


class Cache:
    """Block results as JSON files in ``out``, each stored with what it depends on (solver
    revisions, a policy file's contents): a file whose dependencies differ from this run's,
    or that records none, is computed again rather than reused."""

    def __init__(self, out: Path, force: bool) -> None:
        self.out, self.force = out, force
        out.mkdir(parents=True, exist_ok=True)

    def get(self, name: str, depends: dict):
        path = self.out / f"{name}.json"
        if not path.is_file() or self.force:
            return None
        stored = json.loads(path.read_text())
        if not (isinstance(stored, dict) and stored.get("depends") == depends and "value" in stored):
            log(f"{path.name} was computed with other solvers or weights (or records none); "
                "computing it again")
            return None
        return stored["value"]

    def put(self, name: str, value, depends: dict | None = None) -> None:
        path = self.out / f"{name}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"depends": depends or {}, "value": value}, indent=1))
        temporary.replace(path)


def solver_stamp(entry: str) -> str:
    """A registered solver with its output revision (:func:`mattebox.registry.versioned_name`;
    "name?" if it is unknown), and the options of an entry ``name:option=value`` after it."""
    from mattebox.registry import versioned_name

    name, _, options = entry.partition(":")
    try:
        stamp = versioned_name(name)
    except Exception:  # reported where the block calls the solver
        stamp = f"{name}?"
    return f"{stamp}:{options}" if options else stamp


def file_stamp(path: Path) -> str:
    """The first 12 hex digits of a file's SHA-1."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def candidate_list(text: str) -> tuple[int, ...]:
    """``--candidates``: "0" or a comma list of increasing cluster counts."""
    from mattebox.active.policy import candidate_levels
    from mattebox.errors import InputError

    try:
        return candidate_levels([int(part) for part in text.split(",")] if text.strip() != "0" else 0)
    except (ValueError, InputError) as error:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or increasing cluster counts such as 5,10,20 ({error})")


def cluster_block(cache: Cache, name: str, items, solver: str, region: int, depends: dict) -> dict:
    """B3 per image and checkpoint N: the regions of N colour / position clusters at once."""
    from mattebox.active import baselines
    from mattebox.active.environment import oracle_answer

    def one(image_name, image, alpha, trimap) -> dict:
        out = {}
        for k in CHECKPOINTS:
            regions = [(t, l, oracle_answer(alpha, slice(t, t + region), slice(l, l + region)))
                       for t, l in baselines.cluster_regions(image, k, region)]
            out[str(k)] = rmse_after_regions(image, alpha, regions, solver, region)
        return out

    return per_image_block(cache, name, items, depends, one)


def per_image_block(cache: Cache, name: str, items, depends: dict, compute) -> dict:
    """A block computed image by image with ``compute(name, image, alpha, trimap)``: the cached
    entries reused, the missing images computed and the block stored once they all are (an
    exception stores nothing); returns this run's images (:func:`these_items`)."""
    result = cache.get(name, depends) or {}
    missing = [item for item in items if item[0] not in result]
    for item in missing:
        result[item[0]] = compute(*item)
    if missing:
        cache.put(name, result, depends)
    return these_items(result, items)


def these_items(result: dict, items) -> dict:
    """The entries of a cached block for this run's images (a block may hold more, from a
    run over more images)."""
    return {item[0]: result[item[0]] for item in items}


def synthetic_items(count: int, seed: int, size: int, cache_dir: Path):
    """(name, image, alpha, None) for ``count`` procedural scenes over the validation photos
    (scene seeds ``seed`` onwards; training uses seeds from 0 and validates on seeds from
    1,000,000), made at 400 px as in training and resized to ``size``."""
    from mattebox.active.environment import resize_alpha, resize_image
    from mattebox.active.scenes import scene_pool

    images, alphas = scene_pool(count, seed, split="validation", cache_dir=cache_dir, log=log)
    return [(f"scene{seed + i}", resize_image(image.astype(np.float64), size),
             resize_alpha(alpha.astype(np.float64), size), None) for i, (image, alpha) in enumerate(zip(images, alphas))]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sequence_block(cache: Cache, name: str, items, make_strategy, solver, steps: int, region: int,
                   depends: dict):
    """Per image sequences, cached per image (B1 takes long)."""
    result = cache.get(name, depends) or {}
    for image_name, image, alpha, _ in items:
        if image_name in result:
            continue
        began = time.perf_counter()
        result[image_name] = run_sequence(image, alpha, make_strategy(), solver, steps, region)
        cache.put(name, result, depends)
        log(f"{name} {image_name}: RMSE after {steps} regions {result[image_name][-1]['rmse']:.4f} "
            f"({time.perf_counter() - began:.0f} s)")
    return these_items(result, items)


def warm_up(solver: str, image: np.ndarray) -> None:
    """One solver call on a small crop of ``image`` before any timed step, so that loading the
    compiled kernels (Numba's cache) is not counted as a suggestion's time."""
    from mattebox.active.environment import get_solver

    crop = np.ascontiguousarray(image[:64, :64])
    trimap = np.full(crop.shape[:2], 0.5)
    trimap[:8], trimap[-8:] = 0.0, 1.0
    get_solver(solver)(crop, trimap)


def solver_step_seconds(result: dict) -> list[float]:
    """Seconds of the steps that ran the solver: an fg / bg answer once both layers have one
    (a skip, or an answer while one layer has none, returns at once)."""
    seconds = []
    for records in result.values():
        seen = set()
        for r in records:
            if r["answer"] != "skip":
                seen.add(r["answer"])
                if len(seen) == 2:
                    seconds.append(r["seconds"])
    return seconds


def curve(result: dict, steps: int) -> list[float]:
    """Mean RMSE over images after each step."""
    return [float(np.mean([records[k]["rmse"] for records in result.values()])) for k in range(steps)]


def checkpoint_means(result: dict) -> list[float]:
    """Mean RMSE over images at each checkpoint of a per-image {str(k): RMSE} block."""
    return [float(np.mean([r[str(k)] for r in result.values()])) for k in CHECKPOINTS]


def seeds_curve(cache: Cache, name: str, items, make_strategy, seeds: int, solver, steps: int,
                region: int, depends: dict) -> list[float]:
    """Mean over seeds 0 .. ``seeds`` - 1 of :func:`curve` for ``make_strategy(seed)``; block
    ``name`` with "{seed}" replaced by each seed."""
    curves = [curve(sequence_block(cache, name.format(seed=seed), items,
                                   lambda seed=seed: make_strategy(seed), solver, steps, region,
                                   depends), steps)
              for seed in range(seeds)]
    return list(np.mean(curves, axis=0))


def main(argv=None) -> int:
    global CHECKPOINTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "active_bench")
    parser.add_argument("--plot", type=lambda text: Path(text) if text else None,
                        default=REPO / "docs" / "active_rmse.png", help="PNG to draw ('' for none)")
    parser.add_argument("--weights", help="learned policy weights (default: the shipped small policy)")
    parser.add_argument("--region-cnn", help="Region-CNN weights (default: the shipped file)")
    parser.add_argument("--candidates", type=candidate_list, default=None,
                        help="override the policy's inference candidate levels: cluster counts, "
                             "coarse to fine, e.g. 5,10,20 (0: every cell)")
    parser.add_argument("--candidate-spread", type=float, default=None,
                        help="override the policy's PolicyConfig.candidate_spread")
    parser.add_argument("--candidate-retry", action="store_true",
                        help="a cluster whose candidate cell was skipped offers its next cell "
                             "(PolicyConfig.candidate_retry)")
    parser.add_argument("--solver", default="sm", help="solver in the loop (default sm)")
    parser.add_argument("--reuse-solvers", default="cf,knn,ifm",
                        help="solvers the learned sequence and the trimap are also solved with; "
                             "options after colons, e.g. sm:refine=laplacian")
    parser.add_argument("--stride", type=int, default=20, help="B1 grid stride in pixels at 400 px")
    parser.add_argument("--ideal-search", type=int, default=0,
                        help="B1 searches on a copy shrunk to this side (0: at 400 px); the stride "
                             "shrinks with it")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="B1 processes (default: one per CPU)")
    parser.add_argument("--fast-size", type=int, default=200,
                        help="block 'fast': the learned policy, B3, B4 and the trimap with the "
                             "solver run at this size")
    parser.add_argument("--random-seeds", type=int, default=3)
    parser.add_argument("--extra", type=int, default=5,
                        help="block 'strokes': regions / strokes added after the first --steps")
    parser.add_argument("--synthetic-scenes", type=int, default=60,
                        help="block 'synthetic': held-out procedural scenes")
    parser.add_argument("--synthetic-size", type=int, default=100,
                        help="block 'synthetic': scene side in pixels (regions scale with it)")
    parser.add_argument("--only", default=",".join(BLOCKS), help=f"comma list of {', '.join(BLOCKS)}")
    parser.add_argument("--force", action="store_true", help="recompute cached blocks")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--limit", type=int, default=None, help="first N images only (a quick check)")
    parser.add_argument("--steps", type=int, default=20, help="regions per sequence")
    args = parser.parse_args(argv)
    CHECKPOINTS = tuple(k for k in CHECKPOINTS if k <= args.steps) or (args.steps,)
    import torch

    torch.set_num_threads(args.threads)
    from mattebox.active import baselines
    from mattebox.active.environment import (
        WORK_SIZE,
        downscaled_solver,
        get_solver,
        region_size_for,
        solve_matte,
    )
    from mattebox.errors import InputError
    from mattebox.metrics import rmse
    from mattebox.active.policy import LearnedStrategy, load_policy

    only = set(args.only.split(","))
    unknown = only - set(BLOCKS)
    if unknown:
        raise SystemExit(f"unknown block(s) {', '.join(sorted(unknown))}; choose from {', '.join(BLOCKS)}")
    steps = args.steps
    region = region_size_for(WORK_SIZE)
    ideal_search = args.ideal_search if 0 < args.ideal_search < WORK_SIZE else None
    ideal_stride = baselines.search_stride(args.stride, ideal_search, WORK_SIZE)
    if "ideal" in only:  # B1's options are checked now, not after the blocks before it have run
        try:
            baselines.IdealStrategy(stride=args.stride, workers=args.workers, search_size=ideal_search)
        except InputError as error:
            raise SystemExit(f"B1: {error}")
    items = load_dev(args.data, WORK_SIZE)[:args.limit]
    cache = Cache(args.out, args.force)
    log(f"{len(items)} images from {args.data} at {WORK_SIZE}x{WORK_SIZE}, regions {region}x{region}")
    rows: dict[str, list[float]] = {}
    sm = args.solver

    learned = None
    policy = load_policy(args.weights)
    # inference options of the command line over those stored with the weights
    overrides = {"candidates": args.candidates, "candidate_spread": args.candidate_spread,
                 "candidate_retry": True if args.candidate_retry else None}
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if overrides:
        from dataclasses import replace

        policy.config = replace(policy.config, **overrides)
    # What each block's cached result depends on: the solver's revision, and for the policy's
    # blocks the weights file's contents and the candidate cells used.
    from mattebox.active.policy import candidate_levels, default_weights

    on_solver = {"solver": solver_stamp(sm), "steps": steps}
    on_policy = {**on_solver, "policy": file_stamp(args.weights or default_weights()),
                 "candidates": list(candidate_levels(policy.config.candidates))}
    # (recorded only when set, so that the results cached before these options stay valid)
    if policy.config.candidate_spread:
        on_policy["candidate_spread"] = policy.config.candidate_spread
    if policy.config.candidate_retry:
        on_policy["candidate_retry"] = True
    if {"learned", "reuse", "timing", "fast", "strokes"} & only:
        warm_up(sm, items[0][1])
        learned = sequence_block(cache, f"learned_{sm}", items, lambda: LearnedStrategy(policy), sm, steps, region,
                                 on_policy)
        rows[f"learned + {sm}"] = curve(learned, steps)
    if "random" in only:
        rows[f"B4 random + {sm}"] = seeds_curve(cache, f"random{{seed}}_{sm}", items, baselines.RandomStrategy,
                                                args.random_seeds, sm, steps, region, on_solver)
    if "cells" in only:
        # the learned policy's candidate cells (PolicyConfig.candidates) without the policy:
        # asked biggest cluster first, or in random orders
        from mattebox.active.policy import candidate_levels

        levels = candidate_levels(policy.config.candidates)
        tag, label = "-".join(map(str, levels)) or "0", "/".join(map(str, levels)) or "no"
        result = sequence_block(cache, f"cells{tag}_size_{sm}", items, lambda: CandidateCells(levels), sm,
                                steps, region, on_solver)
        rows[f"cells of {label} clusters by size + {sm}"] = curve(result, steps)
        rows[f"cells of {label} clusters, random order + {sm}"] = seeds_curve(
            cache, f"cells{tag}_random{{seed}}_{sm}", items, lambda seed: CandidateCells(levels, seed),
            args.random_seeds, sm, steps, region, on_solver)
    synthetic_rows: dict[str, list[float]] = {}
    if "synthetic" in only:
        # held-out procedural scenes: no choice about the policy was made on them
        size = args.synthetic_size
        scenes = synthetic_items(args.synthetic_scenes, SYNTHETIC_SEED, size, args.out / "scenes")
        small = region_size_for(size)
        tag = f"synthetic{args.synthetic_scenes}_{size}"
        warm_up(sm, scenes[0][1])
        # keyed by weights and candidates, so that several policies share the scenes and baselines
        from mattebox.active.policy import candidate_levels

        which = f"{Path(args.weights).resolve()}" if args.weights else "shipped"
        levels = "-".join(map(str, candidate_levels(policy.config.candidates))) or "all"
        levels += f"_w{policy.config.candidate_spread:g}" if policy.config.candidate_spread else ""
        levels += "_retry" if policy.config.candidate_retry else ""
        key = hashlib.sha1(which.encode()).hexdigest()[:8]
        result = sequence_block(cache, f"{tag}_learned_{key}_c{levels}_{sm}", scenes,
                                lambda: LearnedStrategy(policy), sm, steps, small, on_policy)
        synthetic_rows[f"learned + {sm}"] = curve(result, steps)
        synthetic_rows[f"B4 random + {sm}"] = seeds_curve(
            cache, f"{tag}_random{{seed}}_{sm}", scenes, baselines.RandomStrategy, args.random_seeds, sm,
            steps, small, on_solver)
        synthetic_rows[f"B3 cluster + {sm}"] = checkpoint_means(
            cluster_block(cache, f"{tag}_cluster_{sm}", scenes, sm, small, on_solver))
    if "cluster" in only:
        rows[f"B3 cluster + {sm}"] = checkpoint_means(
            cluster_block(cache, f"cluster_{sm}", items, sm, region, on_solver))
    if "region-cnn" in only:
        on_region_cnn = {**on_solver,
                         "region_cnn": file_stamp(args.region_cnn or baselines.default_region_cnn_weights())}
        nets = {}  # loaded on the first image that needs them

        def region_cnn_rmse(name, image, alpha, trimap) -> dict:
            from mattebox.active.environment import ActiveEnvironment

            if not nets:
                nets.update({k: baselines.load_region_cnn(k, args.region_cnn) for k in CHECKPOINTS})
            out = {}
            for k in CHECKPOINTS:
                strategy = baselines.RegionCNNStrategy(nets[k])
                env = ActiveEnvironment(image, sm, alpha, region)
                strategy.reset(image)
                regions = []
                for location in strategy.locations:
                    t, l = env.corner(location)
                    regions.append((t, l, env.oracle(t, l)))
                out[str(k)] = rmse_after_regions(image, alpha, regions, sm, region)
            return out

        result = per_image_block(cache, f"region_cnn_{sm}", items, on_region_cnn, region_cnn_rmse)
        rows[f"B2 Region-CNN + {sm}"] = checkpoint_means(result)
    if "ideal" in only:
        searched = ideal_search or WORK_SIZE
        ideal = sequence_block(cache, f"ideal_stride{args.stride}_search{searched}_{sm}", items,
                               lambda: baselines.IdealStrategy(stride=ideal_stride, workers=args.workers,
                                                               search_size=ideal_search),
                               sm, steps, region, on_solver)
        rows[f"B1 ideal (stride {args.stride}, searched at {searched} px) + {sm}"] = curve(ideal, steps)
    reuse_rows = {}
    if "reuse" in only:
        for solver in args.reuse_solvers.split(","):
            name = f"reuse_learned_{sm}_{file_part(solver)}"
            on_both = {**on_policy, "reuse_solver": solver_stamp(solver)}
            result = cache.get(name, on_both) or {}
            for image_name, image, alpha, _ in items:
                if image_name in result:
                    continue
                result[image_name] = {}
                for k in CHECKPOINTS:
                    regions = [(r["top"], r["left"], r["answer"]) for r in learned[image_name][:k]]
                    began = time.perf_counter()
                    try:
                        result[image_name][str(k)] = rmse_after_regions(image, alpha, regions, solver, region)
                    except Exception as exc:  # a solver not available in this checkout
                        log(f"{solver} failed on {image_name}: {exc}")
                        result[image_name][str(k)] = None
                    log(f"{name} {image_name} k={k}: {result[image_name][str(k)]} "
                        f"({time.perf_counter() - began:.0f} s)")
                cache.put(name, result, on_both)
            values = [[r[str(k)] for r in these_items(result, items).values()] for k in CHECKPOINTS]
            if all(v is not None for vs in values for v in vs):
                reuse_rows[f"learned sequence + {solver}"] = [float(np.mean(v)) for v in values]
    trimap_rows = {}
    if "trimap" in only:
        for solver in [sm] + args.reuse_solvers.split(","):
            name = f"trimap_{file_part(solver)}"

            def trimap_rmse(image_name, image, alpha, trimap, solver=solver, name=name) -> float:
                value = rmse(solve_matte(image, trimap, solver_for(solver)), alpha)
                log(f"{name} {image_name}: {value:.4f}")
                return value

            try:
                result = per_image_block(cache, name, items, {"solver": solver_stamp(solver)},
                                         trimap_rmse)
            except Exception as exc:
                log(f"trimap + {solver} failed: {exc}")
                continue
            trimap_rows[f"trimap + {solver}"] = float(np.mean(list(result.values())))
    pure_rows, pure_cells = {}, None
    if "pure" in only:
        for solver in [sm] + args.reuse_solvers.split(","):
            def pure_rmse(image_name, image, alpha, trimap, solver=solver) -> dict:
                out = {}
                for where in ("grid", "anywhere"):
                    labels = baselines.every_pure_region_trimap(alpha, region, where == "anywhere")
                    out[where] = rmse(solve_matte(image, labels, solver_for(solver)), alpha)
                    out[f"{where}_unknown"] = float(np.mean(labels == 0.5))
                grid = baselines.every_pure_region_trimap(alpha, region)
                out["cells"] = int(np.count_nonzero(grid != 0.5)) // (region * region)
                log(f"pure_{file_part(solver)} {image_name}: {out}")
                return out

            try:
                result = per_image_block(cache, f"pure_{file_part(solver)}", items,
                                         {"solver": solver_stamp(solver), "region": region}, pure_rmse)
            except Exception as exc:
                log(f"every pure region + {solver} failed: {exc}")
                continue
            for where, label in (("grid", "every pure grid cell"), ("anywhere", "every pure window")):
                pure_rows[f"{label} + {solver}"] = float(np.mean([r[where] for r in result.values()]))
            pure_cells = (float(np.mean([r["cells"] for r in result.values()])),
                          float(np.mean([r["grid_unknown"] for r in result.values()])),
                          float(np.mean([r["anywhere_unknown"] for r in result.values()])))
    fast_timing = None
    if "fast" in only:
        fast_solver = downscaled_solver(get_solver(sm), args.fast_size)
        fast = sequence_block(cache, f"learned_{sm}_solved{args.fast_size}", items,
                              lambda: LearnedStrategy(policy), fast_solver, steps, region,
                              {**on_policy, "upsample": "guided"})
        rows[f"learned + {sm} solved at {args.fast_size} px"] = curve(fast, steps)
        # B3, B4 and the trimap with the same downscaled solver, so that the row above is
        # compared with its like
        size = args.fast_size
        on_fast = {**on_solver, "solve_size": size, "upsample": "guided"}
        rows[f"B4 random + {sm} solved at {size} px"] = seeds_curve(
            cache, f"random{{seed}}_{sm}_solved{size}", items, baselines.RandomStrategy,
            args.random_seeds, fast_solver, steps, region, on_fast)
        rows[f"B3 cluster + {sm} solved at {size} px"] = checkpoint_means(
            cluster_block(cache, f"cluster_{sm}_solved{size}", items, fast_solver, region, on_fast))
        result = per_image_block(
            cache, f"trimap_{sm}_solved{size}", items, on_fast,
            lambda image_name, image, alpha, trimap: rmse(solve_matte(image, trimap, fast_solver), alpha))
        trimap_rows[f"trimap + {sm} solved at {size} px"] = float(np.mean(list(result.values())))
        seconds = [r["seconds"] for records in fast.values() for r in records[1:]]
        solved = solver_step_seconds(fast)
        fast_timing = {"mean": float(np.mean(seconds)), "median": float(np.median(seconds)),
                       "p90": float(np.percentile(seconds, 90)), "max": float(np.max(seconds)),
                       "solved_count": len(solved), "solved_mean": float(np.mean(solved)) if solved else None}
    strokes = None
    if "strokes" in only:
        def strokes_of(image_name, image, alpha, trimap) -> dict:
            value = regions_or_strokes(image, alpha, LearnedStrategy(policy), sm, steps, region,
                                       args.extra)
            log(f"strokes {image_name}: {value}")
            return value

        strokes = per_image_block(cache, f"strokes_{sm}", items, {**on_policy, "extra": args.extra},
                                  strokes_of)
    timing = None
    if "timing" in only:
        seconds = [r["seconds"] for records in learned.values() for r in records[1:]]
        suggest = [r["suggest_seconds"] for records in learned.values() for r in records[1:]]
        solved = solver_step_seconds(learned)
        timing = {"mean": float(np.mean(seconds)), "median": float(np.median(seconds)),
                  "p90": float(np.percentile(seconds, 90)), "max": float(np.max(seconds)),
                  "policy_mean": float(np.mean(suggest)),
                  "solved_count": len(solved), "solved_mean": float(np.mean(solved)) if solved else None}

    print(f"\nMean RMSE on {len(items)} alphamatting-dev images at 400x400 (Eq. 2, every pixel), "
          f"after k regions asked:\n")
    header = f"| {'strategy + solver':40s} | " + " | ".join(f"k={k:<4d}" for k in CHECKPOINTS) + " |"
    print(header)
    print("|" + "-" * 42 + "|" + "|".join("-" * 8 for _ in CHECKPOINTS) + "|")
    table = {}
    for name, values in {**rows, **reuse_rows}.items():
        picked = values if len(values) == len(CHECKPOINTS) else [values[k - 1] for k in CHECKPOINTS]
        table[name] = picked
        print(f"| {name:40s} | " + " | ".join(f"{v:.4f}" for v in picked) + " |")
    for name, value in {**trimap_rows, **pure_rows}.items():
        print(f"| {name:40s} | " + " | ".join(f"{value:.4f}" for _ in CHECKPOINTS) + " |")
    if pure_cells:
        print(f"  (every pure region answered: {pure_cells[0]:.0f} pure grid cells per image on average, "
              f"leaving {pure_cells[1]:.0%} of the pixels unknown; every pure window leaves "
              f"{pure_cells[2]:.0%}; the benchmark's trimap leaves "
              f"{np.mean([np.mean(item[3] == 0.5) for item in items]):.0%})")
    if synthetic_rows:
        print(f"\nMean RMSE on {args.synthetic_scenes} held-out procedural scenes over the validation photos "
              f"at {args.synthetic_size}x{args.synthetic_size} ({region_size_for(args.synthetic_size)} px "
              f"regions), after k regions asked:\n")
        print(header)
        print("|" + "-" * 42 + "|" + "|".join("-" * 8 for _ in CHECKPOINTS) + "|")
        for name, values in synthetic_rows.items():
            picked = values if len(values) == len(CHECKPOINTS) else [values[k - 1] for k in CHECKPOINTS]
            table[f"synthetic: {name}"] = picked
            print(f"| {name:40s} | " + " | ".join(f"{v:.4f}" for v in picked) + " |")
    if timing:
        print(f"\nseconds per suggestion (policy + {sm} update after the answer, 400x400, steps 2-20): "
              f"mean {timing['mean']:.3f}, median {timing['median']:.3f}, p90 {timing['p90']:.3f}, "
              f"max {timing['max']:.3f}; policy alone {timing['policy_mean'] * 1000:.1f} ms")
        if timing["solved_count"]:
            print(f"  over the {timing['solved_count']} steps that ran the solver: "
                  f"mean {timing['solved_mean']:.3f}")
    if fast_timing:
        print(f"seconds per suggestion with {sm} solved at {args.fast_size} px and resized back: "
              f"mean {fast_timing['mean']:.3f}, median {fast_timing['median']:.3f}, "
              f"p90 {fast_timing['p90']:.3f}, max {fast_timing['max']:.3f}")
        if fast_timing["solved_count"]:
            print(f"  over the {fast_timing['solved_count']} steps that ran the solver: "
                  f"mean {fast_timing['solved_mean']:.3f}")
    if strokes:
        extra = args.extra
        mean = {key: np.mean([r[key] for r in strokes.values()], axis=0)
                for key in ("regions", "chosen_regions", "strokes")}
        start = float(np.mean([r["start"] for r in strokes.values()]))
        pixels = [p for r in strokes.values() for p in r["stroke_pixels"]]
        print(f"\nafter the learned policy's {steps} regions ({sm}), mean RMSE {start:.4f}; then, after "
              f"each of {extra} more:")
        print(f"  regions from the policy ({region}x{region} = {region * region} pixels each): "
              + " ".join(f"{v:.4f}" for v in mean["regions"]))
        print("  regions the simulated person picks where the matte is worst: "
              + " ".join(f"{v:.4f}" for v in mean["chosen_regions"]))
        print(f"  simulated strokes there (radius 2, <= 40 px long, {np.mean(pixels):.0f} pixels each on "
              f"average): " + " ".join(f"{v:.4f}" for v in mean["strokes"]))
    summary = {"fast_timing": fast_timing, "strokes": strokes, "table": table, "trimap": trimap_rows,
               "pure": pure_rows, "timing": timing, "checkpoints": list(CHECKPOINTS),
               "images": [i[0] for i in items], "stride": args.stride}
    cache.put("summary", summary)
    if args.plot and rows:
        plot(rows, reuse_rows, trimap_rows, args.plot, sm, pure_rows)
        print(f"\nplot: {args.plot.relative_to(REPO) if args.plot.is_relative_to(REPO) else args.plot}")
    return 0


def plot(rows, reuse_rows, trimap_rows, path: Path, sm: str, pure_rows=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Panel (a) holds a dozen curves: its legend goes beside it, colours come from a 20-colour
    # cycle so none repeats, and the rows with the solver run on a shrunk copy are dotted.
    fig, axes = plt.subplots(1, 2, figsize=(15, 5))
    ax = axes[0]
    colours = plt.get_cmap("tab20").colors
    for i, (name, values) in enumerate(rows.items()):
        xs = list(range(1, len(values) + 1)) if len(values) > len(CHECKPOINTS) else list(CHECKPOINTS)
        ax.plot(xs, values, marker="o" if len(xs) == len(CHECKPOINTS) else None, label=name,
                color=colours[(2 * i) % 20 + (2 * i) // 20 % 2], ls=":" if "solved at" in name else "-")
    if f"trimap + {sm}" in trimap_rows:
        ax.axhline(trimap_rows[f"trimap + {sm}"], color="k", ls="--", lw=1, label=f"trimap + {sm}")
    if pure_rows and f"every pure window + {sm}" in pure_rows:
        ax.axhline(pure_rows[f"every pure window + {sm}"], color="k", ls="-.", lw=1,
                   label=f"every pure 20x20 window answered + {sm}")
    ax.set(xlabel="regions asked", ylabel="mean RMSE", title=f"(a) strategies, {sm} in the loop")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for i, (name, values) in enumerate(reuse_rows.items()):
        line, = ax.plot(CHECKPOINTS, values, marker="o", label=name)
        solver = name.split("+ ")[-1]
        if f"trimap + {solver}" in trimap_rows:
            ax.axhline(trimap_rows[f"trimap + {solver}"], color=line.get_color(), ls="--", lw=1)
    learned = [v for k, v in rows.items() if k.startswith("learned")]
    if learned:
        ax.plot(CHECKPOINTS, [learned[0][k - 1] for k in CHECKPOINTS], marker="o", label=f"learned + {sm}")
    ax.set(xlabel="regions asked", ylabel="mean RMSE",
           title="(b) learned sequence with other solvers (dashed: trimap)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle("Active matting on alphamatting-dev (9 images, resized to 400x400)")
    fig.tight_layout()
    fig.subplots_adjust(wspace=0.75)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    raise SystemExit(main())
