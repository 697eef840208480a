"""Training throughput of a config on this machine, in samples per second.

Three figures, each the median over timed steps after warm-up steps:

- ``model``: forward + backward + optimiser step on random tensors of the config's crop and
  batch size (the network alone);
- ``data``: training samples drawn from the config's data source in this process (the
  generator and augmentation alone);
- ``end-to-end``: the Trainer's steps (data loading as configured, logging, no evaluation).

Usage::

    python benchmarks/train_throughput.py configs/dim_small.toml [--steps 10] [--threads 1]
        [--set data.crop_size=256 ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from mattebox.train.command import apply_overrides
from mattebox.train.config import from_dict


def _median_rate(times: list[float], samples: int) -> float:
    return samples / statistics.median(times)


def model_rate(config, steps: int, warmup: int = 2) -> float:
    from mattebox import models

    torch.manual_seed(0)
    model = models.build_model(config.model_name, **config.model_options)
    objective = models.build_objective(config.model_name, model, **config.objective)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    size, batch_size = config.data.crop_size, config.train.batch_size
    trimap = torch.full((batch_size, 1, size, size), 0.5)
    batch = {"image": torch.rand(batch_size, 3, size, size), "alpha": torch.rand(batch_size, 1, size, size),
             "trimap": trimap, "fg": torch.rand(batch_size, 3, size, size), "bg": torch.rand(batch_size, 3, size, size)}
    times = []
    for step in range(warmup + steps):
        began = time.perf_counter()
        objective.set_train_mode(model, step)
        loss, _ = objective.loss(model, batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - began)
    return _median_rate(times, batch_size)


def data_rate(config, samples: int) -> float:
    from mattebox.train.dataset import TrainingStream, build_base_dataset

    stream = TrainingStream(build_base_dataset(config.data, config.seed))
    stream[0]
    times = []
    for index in range(1, samples + 1):
        began = time.perf_counter()
        stream[index]
        times.append(time.perf_counter() - began)
    return len(times) / sum(times)  # mean, not median: fg generation is amortised over `reuse`


def end_to_end_rate(config, steps: int, warmup: int = 2) -> float:
    from mattebox.train.engine import Trainer

    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, folder, stop_at=warmup, progress=False)
        trainer.run()
        began = time.perf_counter()
        trainer.stop_at = warmup + steps
        trainer.run()
        elapsed = time.perf_counter() - began
    return steps * config.train.batch_size / elapsed


def main(argv=None) -> int:
    import tomllib

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--skip", default="", help="comma list of figures to skip (model,data,e2e)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    values = apply_overrides(tomllib.loads(Path(args.config).read_text()), args.set)
    values.setdefault("train", {})["threads"] = args.threads
    values.setdefault("eval", {})["every"] = 0
    config = from_dict(values, where=args.config)
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    result = {"config": args.config, "crop_size": config.data.crop_size,
              "batch_size": config.train.batch_size, "threads": args.threads, "overrides": args.set}
    print(f"{args.config}: crop {config.data.crop_size}, batch {config.train.batch_size}, "
          f"{args.threads} thread(s), {args.steps} timed steps", flush=True)
    if "model" not in skip:
        result["model_samples_per_s"] = model_rate(config, args.steps)
        print(f"model       {result['model_samples_per_s']:7.3f} samples/s", flush=True)
    if "data" not in skip:
        result["data_samples_per_s"] = data_rate(config, args.steps * config.train.batch_size)
        print(f"data        {result['data_samples_per_s']:7.3f} samples/s", flush=True)
    if "e2e" not in skip:
        result["end_to_end_samples_per_s"] = end_to_end_rate(config, args.steps)
        print(f"end-to-end  {result['end_to_end_samples_per_s']:7.3f} samples/s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
