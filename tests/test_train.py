"""The trainer: configs, schedules, checkpoints, exact resume, two-process DDP, the command."""

from __future__ import annotations

import argparse
import csv
import math
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import RunsCodeWhenUnpickled
from mattebox.errors import InputError
from mattebox.train import checkpoint, command, schedules
from mattebox.train.config import Config, ScheduleConfig, from_dict, load_config
from mattebox.train.dataset import StepSampler, TrainingStream, ToyDataset

TOY = {
    "name": "toy",
    "seed": 3,
    "model": {"name": "dim", "widths": [4, 8, 8, 8, 8], "refine_width": 4},
    "data": {"source": "toy", "crop_size": 64},
    "optim": {"lr": 3e-3},
    "schedule": {"name": "poly", "power": 0.9},
    "train": {"max_steps": 6, "batch_size": 2, "log_every": 1, "checkpoint_every": 2},
    "eval": {"every": 0, "synthetic_count": 0},
}


def toy_config(**changes) -> Config:
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TOY.items()}
    for section, update in changes.items():
        values[section].update(update)
    return from_dict(values)


def test_config_reads_toml_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[model]\nname = "dim"\nwidths = [8, 8, 8, 8, 8]\n'
                    '[train]\nbatch_size = 3\n[eval]\ndev_trimaps = ["trimap"]\n')
    config = load_config(path)
    assert config.train.batch_size == 3 and config.model_options == {"widths": [8, 8, 8, 8, 8]}
    assert config.eval.dev_trimaps == ("trimap",)
    assert from_dict(config.to_dict()) == config
    path.write_text("[train]\nbatchsize = 3\n")
    with pytest.raises(InputError, match="batchsize"):
        load_config(path)
    with pytest.raises(InputError, match="multiple of 32"):
        toy_config(data={"crop_size": 100})
    with pytest.raises(InputError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="norm_stats"):
        toy_config(eval={"norm_stats": "batch"})


def test_shipped_configs_load():
    root = Path(__file__).resolve().parents[1] / "configs"
    for name in ("dim_small.toml", "dim_paper.toml"):
        config = load_config(root / name)
        assert config.model_name == "dim"


def test_schedules_by_hand():
    poly = ScheduleConfig(name="poly", power=0.9)
    assert schedules.schedule_factor(poly, 0, 100) == 1.0
    assert schedules.schedule_factor(poly, 50, 100) == pytest.approx(0.5**0.9)
    assert schedules.schedule_factor(poly, 100, 100) == 0.0
    cosine = ScheduleConfig(name="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert schedules.schedule_factor(cosine, 0, 110) == pytest.approx(0.1)  # warm-up 1/10
    assert schedules.schedule_factor(cosine, 9, 110) == pytest.approx(1.0)
    assert schedules.schedule_factor(cosine, 60, 110) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedules.schedule_factor(cosine, 110, 110) == pytest.approx(0.1)
    assert schedules.schedule_factor(ScheduleConfig(), 7, 10) == 1.0


def test_scheduler_applies_group_factors_and_adam_betas():
    from mattebox.train.config import OptimConfig

    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = schedules.build_optimizer(OptimConfig(lr=1.0, betas=(0.5, 0.999)),
                                          [{"name": "a", "params": [a]}, {"name": "b", "params": [b]}])
    assert optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    scheduler = schedules.build_scheduler(optimizer, ScheduleConfig(name="poly", power=1.0), 4,
                                          lambda group, step: 0.0 if group == "b" else 1.0)
    assert [g["lr"] for g in optimizer.param_groups] == [1.0, 0.0]
    optimizer.step()
    scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == [0.75, 0.0]


def test_atomic_save_leaves_no_temporary(tmp_path):
    checkpoint.atomic_torch_save({"x": torch.arange(3)}, tmp_path / "a.pt")
    checkpoint.atomic_torch_save({"x": torch.arange(4)}, tmp_path / "a.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    assert torch.load(tmp_path / "a.pt")["x"].tolist() == [0, 1, 2, 3]


def test_step_sampler_splits_global_batches_across_processes():
    take = lambda sampler, n: [next(it) for it in [iter(sampler)] for _ in range(n)]  # noqa: E731
    assert take(StepSampler(2, rank=0, world_size=2), 4) == [0, 1, 4, 5]
    assert take(StepSampler(2, rank=1, world_size=2), 4) == [2, 3, 6, 7]
    assert take(StepSampler(2, rank=1, world_size=2, start_step=3), 2) == [14, 15]
    stream = TrainingStream(ToyDataset(10, 32))
    sample = stream[13]
    assert sample["image"].shape == (3, 32, 32) and sample["trimap"].shape == (1, 32, 32)
    assert torch.equal(sample["alpha"], stream[3]["alpha"])  # index 13 wraps to 3 (no epochs)


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    from mattebox.train.engine import Trainer

    straight = Trainer(toy_config(), tmp_path / "a", stop_at=4, progress=False)
    straight.run()
    first = Trainer(toy_config(), tmp_path / "b", stop_at=2, progress=False)
    first.run()
    assert first.losses == straight.losses[:2]
    resumed = Trainer(toy_config(), tmp_path / "b", resume=True, stop_at=4, progress=False)
    assert resumed.step == 2
    resumed.run()
    assert resumed.losses == straight.losses[2:4]  # bit for bit
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    with open(tmp_path / "b" / "train_log.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [1, 2, 3, 4]
    with pytest.raises(InputError, match="trained with"):
        Trainer(toy_config(model={"refine_width": 8}), tmp_path / "b", resume=True, progress=False)


def test_init_starts_from_a_weights_file_with_a_fresh_optimiser(tmp_path):
    from mattebox.models import save_weights
    from mattebox.train.engine import Trainer

    first = Trainer(toy_config(), tmp_path / "a", stop_at=2, progress=False)
    first.run()
    weights = save_weights(tmp_path / "w.pt", "dim", toy_config().model_options, first.model)
    second = Trainer(toy_config(train={"init": str(weights)}), tmp_path / "b", progress=False)
    assert second.step == 0
    for (name, p), q in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(p, q), name
    with pytest.raises(InputError, match="same model"):
        Trainer(toy_config(model={"refine_width": 8}, train={"init": str(weights)}), tmp_path / "c",
                progress=False)


def test_init_grows_a_model_into_its_colour_hint_version(tmp_path):
    """Weights without hint inputs start a hinted model: same weights, hint channels at zero."""
    from mattebox.models import save_weights
    from mattebox.train.engine import Trainer

    first = Trainer(toy_config(), tmp_path / "a", stop_at=2, progress=False)
    first.run()
    weights = save_weights(tmp_path / "w.pt", "dim", toy_config().model_options, first.model)
    logs: list[str] = []
    hinted = Trainer(toy_config(model={"colour_hints": True}, train={"init": str(weights)}),
                     tmp_path / "b", progress=False, log=logs.append)
    assert any("colour_hints added" in line for line in logs)
    grown = hinted.model.state_dict()
    for name, p in first.model.state_dict().items():
        if name == "encoder.0.0.0.weight":
            assert torch.equal(grown[name][:, :4], p) and not grown[name][:, 4:].any()
        else:
            assert torch.equal(grown[name], p), name
    # the other way round is refused, as is growing with other options changed
    hinted_weights = save_weights(tmp_path / "h.pt", "dim", hinted.config.model_options, hinted.model)
    with pytest.raises(InputError, match="same model"):
        Trainer(toy_config(train={"init": str(hinted_weights)}), tmp_path / "c", progress=False)
    with pytest.raises(InputError, match="same model"):
        Trainer(toy_config(model={"colour_hints": True, "refine_width": 8}, train={"init": str(weights)}),
                tmp_path / "d", progress=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, out: str) -> None:
    import os

    from mattebox.train import distributed
    from mattebox.train.engine import Trainer

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    trainer = Trainer(toy_config(), Path(out) / "run", stop_at=2, progress=False)
    trainer.run()
    params = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    torch.save({"params": params, "losses": trainer.losses}, Path(out) / f"rank{rank}.pt")
    distributed.cleanup()


def test_two_process_ddp_trains_in_lockstep(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    torch.manual_seed(toy_config().seed)
    from mattebox.models import build_model

    initial = dict(build_model("dim", **toy_config().model_options).named_parameters())
    changed = 0
    for name, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][name]), name
        changed += not torch.equal(value, initial[name].detach())
    assert changed > 0  # they did train (batch-norm running statistics stay per process)
    assert ranks[0]["losses"] != ranks[1]["losses"]  # on different samples
    assert (tmp_path / "run" / "last.pt").is_file()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_refuses_an_output_that_is_a_file_before_training(tmp_path):
    import tomli_w

    from mattebox.errors import OutputError

    config_path = tmp_path / "toy.toml"
    config_path.write_text(tomli_w.dumps(TOY))
    (tmp_path / "taken").write_text("a file, not a run folder")
    with pytest.raises(OutputError, match="is a file"):
        command.run(_parse([str(config_path), "--out", str(tmp_path / "taken"), "--no-progress"]))
    assert (tmp_path / "taken").read_text() == "a file, not a run folder"


def test_command_trains_resumes_and_exports(tmp_path, capsys):
    import tomli_w

    config_path = tmp_path / "toy.toml"
    config_path.write_text(tomli_w.dumps(TOY))
    out, weights = tmp_path / "run", tmp_path / "w.pt"
    assert command.run(_parse([str(config_path), "--out", str(out), "--stop-at", "1", "--no-progress"])) == 0
    with pytest.raises(InputError, match="--resume"):
        command.run(_parse([str(config_path), "--out", str(out), "--no-progress"]))
    argv = [str(config_path), "--out", str(out), "--resume", "--stop-at", "2", "--no-progress",
            "--set", "train.log_every=2", "--export", str(weights)]
    assert command.run(_parse(argv)) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    from mattebox.models import load_weights

    model = load_weights(weights, expect="dim")
    assert not model.training
    assert model.norm_stats == "running"  # the statistics the config evaluates with
    again = tmp_path / "again.pt"
    assert command.run(_parse([str(config_path), "--out", str(out), "--export", str(again), "--export-only"])) == 0
    assert again.is_file()
    assert load_weights(out / "last.pt").norm_stats == "running"  # a checkpoint read as weights
    image_run, image_weights = tmp_path / "image_run", tmp_path / "image.pt"
    assert command.run(_parse([str(config_path), "--out", str(image_run), "--stop-at", "1", "--no-progress",
                               "--set", "eval.norm_stats=image", "--export", str(image_weights)])) == 0
    assert load_weights(image_weights).norm_stats == "image"
    assert load_weights(image_run / "last.pt").norm_stats == "image"
    with pytest.raises(InputError, match="no checkpoint"):
        command.run(_parse([str(config_path), "--out", str(tmp_path / "none"), "--export", str(again),
                            "--export-only"]))
    with pytest.raises(InputError, match="SECTION.KEY=VALUE"):
        command.apply_overrides({}, ["batch_size=3"])


def test_evaluation_scores_a_folder(tmp_path):
    """Evaluation on a tiny folder in the alphamatting-dev layout, and the best checkpoint."""
    from conftest import make_composite
    from mattebox.io import write_alpha, write_image, write_trimap
    from mattebox.train.engine import Trainer

    for sub in ("image", "alpha", "trimap"):
        (tmp_path / "dev" / sub).mkdir(parents=True)
    image, alpha, _, _, trimap = make_composite(40, 50)
    write_image(tmp_path / "dev" / "image" / "a.png", image)
    write_alpha(tmp_path / "dev" / "alpha" / "a.png", alpha)
    write_trimap(tmp_path / "dev" / "trimap" / "a.png", trimap)
    config = toy_config(eval={"every": 2, "dev_dir": str(tmp_path / "dev"), "dev_trimaps": ["trimap"]})
    trainer = Trainer(config, tmp_path / "run", stop_at=2, progress=False, log=lambda text: None)
    trainer.run()
    results = trainer.best["results"]["dev"]
    assert set(results) == {"sad", "mse", "grad", "conn", "rmse"}
    assert all(math.isfinite(v) for v in results.values())
    assert (tmp_path / "run" / "best.pt").is_file() and trainer.best["step"] == 2
    rows = list(csv.DictReader(open(tmp_path / "run" / "eval_log.csv")))
    assert rows[0]["set"] == "dev" and rows[0]["best"] == "1"
    assert np.isclose(float(rows[0]["sad"]), results["sad"], rtol=1e-5)
    # with each image's own batch-norm statistics the same weights score differently
    trainer.config.eval.norm_stats = "image"
    assert trainer.evaluate()["dev"]["sad"] != pytest.approx(results["sad"], rel=1e-6)


def test_init_may_switch_the_hint_source_and_nothing_else(tmp_path):
    """Weights trained with push-pull hints start a model with shared-matting hints (same
    shapes, other inputs); any other change of options is still refused."""
    from mattebox.models import save_weights
    from mattebox.train.engine import Trainer

    first = Trainer(toy_config(model={"colour_hints": True}), tmp_path / "a", stop_at=1, progress=False)
    first.run()
    weights = save_weights(tmp_path / "w.pt", "dim", first.config.model_options, first.model)
    logs: list[str] = []
    switched = Trainer(toy_config(model={"colour_hints": True, "hint_source": "sm"}, train={"init": str(weights)}),
                       tmp_path / "b", progress=False, log=logs.append)
    assert any("hint_source = 'sm'" in line for line in logs)
    for (name, p), q in zip(first.model.state_dict().items(), switched.model.state_dict().values()):
        assert torch.equal(p, q), name
    with pytest.raises(InputError, match="same model"):
        Trainer(toy_config(model={"colour_hints": True, "hint_source": "sm", "refine_width": 8},
                           train={"init": str(weights)}), tmp_path / "c", progress=False)


def test_init_output_hints_silences_the_loaded_networks_own_output(tmp_path):
    from mattebox.models import save_weights
    from mattebox.train.engine import Trainer

    options = {"colour_hints": True, "hint_skip": True}
    first = Trainer(toy_config(model=options), tmp_path / "a", stop_at=1, progress=False)
    first.run()
    weights = save_weights(tmp_path / "w.pt", "dim", first.config.model_options, first.model)
    assert first.model.raw_alpha.weight.abs().sum() > 0
    started = Trainer(toy_config(model=options, train={"init": str(weights), "init_output": "hints"}),
                      tmp_path / "b", progress=False)
    assert started.model.raw_alpha.weight.abs().sum() == 0 and started.model.hint_gate.item() == 1.0
    assert torch.equal(started.model.encoder[0][0][0].weight, first.model.encoder[0][0][0].weight)
    with pytest.raises(InputError, match="init_output"):
        toy_config(train={"init_output": "zero"})
    plain = Trainer(toy_config(model={"colour_hints": True}), tmp_path / "p", progress=False)
    no_gate = save_weights(tmp_path / "p.pt", "dim", plain.config.model_options, plain.model)
    with pytest.raises(InputError, match="hint_skip"):
        Trainer(toy_config(model={"colour_hints": True}, train={"init": str(no_gate), "init_output": "hints"}),
                tmp_path / "c", progress=False)


def test_bad_model_options_end_in_a_config_error(tmp_path):
    from mattebox.train.engine import Trainer

    with pytest.raises(InputError, match=r"\[model\].*hint_source"):
        Trainer(toy_config(model={"colour_hints": True, "hint_source": "nearest"}), tmp_path / "a", progress=False)
    with pytest.raises(InputError, match=r"\[model\].*hint_skip needs colour_hints"):
        Trainer(toy_config(model={"hint_skip": True}), tmp_path / "b", progress=False)
    with pytest.raises(InputError, match=r"\[model\].*widht"):
        Trainer(toy_config(model={"widht": 3}), tmp_path / "c", progress=False)


def test_config_file_and_value_kinds_end_in_config_errors(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(InputError, match="is not text"):
        load_config(path)
    with pytest.raises(InputError, match="is a folder"):
        load_config(tmp_path)
    for text, match in [('seed = "x"\n', "seed in .* must be a whole number"),
                        ("model = 3\n", "model in .* must be a table"),
                        ('[train]\nmax_steps = "x"\n', r"\[train\] max_steps must be a whole number"),
                        ("[data]\ncrop_size = 320.5\n", r"\[data\] crop_size must be a whole number"),
                        ("[policy]\nsize = 100\n", "active-matting policy config")]:
        path.write_text(text)
        with pytest.raises(InputError, match=match):
            load_config(path)


def test_checkpoints_load_without_running_code_from_the_file(tmp_path):
    from mattebox.models import read_weights
    from mattebox.train.checkpoint import load_checkpoint
    from mattebox.train.engine import Trainer

    trainer = Trainer(toy_config(train={"max_steps": 2}), tmp_path / "run", progress=False)
    trainer.run()
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")  # RNG states with NumPy arrays
    assert checkpoint["step"] == 2 and checkpoint["rng"]["numpy"][0] == "MT19937"
    assert read_weights(tmp_path / "run" / "last.pt")["model"] == "dim"
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "rng": RunsCodeWhenUnpickled(str(marker))}, evil)
    with pytest.raises(InputError, match="not a mattebox training checkpoint"):
        load_checkpoint(evil)
    with pytest.raises(InputError, match="not a readable mattebox weights file"):
        read_weights(evil)
    assert not marker.exists()
