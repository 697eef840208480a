"""Deep Image Matting: losses, network, staged objective, weights, registry, overfitting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import make_composite
from mattebox import losses
from mattebox.errors import InputError
from mattebox.models import build_model, load_weights, save_weights
from mattebox.models.dim.network import DIMNet
from mattebox.models.dim.training import DIMObjective
from mattebox.train.dataset import toy_sample

TINY = {"widths": [4, 8, 8, 16, 16], "refine_width": 8}


def _batch(count: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    samples = [toy_sample(i, size, seed) for i in range(count)]
    out = {}
    for key in ("image", "alpha", "trimap", "fg", "bg"):
        arrays = [s[key] if s[key].ndim == 3 else s[key][..., None] for s in samples]
        out[key] = torch.from_numpy(np.stack(arrays).transpose(0, 3, 1, 2).copy())
    return out


def test_alpha_loss_by_hand():
    pred = torch.tensor([0.2, 0.5, 1.0, 0.0]).view(1, 1, 2, 2)
    true = torch.tensor([0.0, 0.5, 0.5, 1.0]).view(1, 1, 2, 2)
    weight = torch.tensor([1.0, 1.0, 1.0, 0.0]).view(1, 1, 2, 2)
    # |d| = 0.2, 0, 0.5 on the three counted pixels; eps^2 = 1e-12 is negligible except at 0
    expected = (0.2 + 1e-6 + 0.5) / 3
    assert losses.alpha_prediction_loss(pred, true, weight).item() == pytest.approx(expected, rel=1e-5)
    assert losses.alpha_prediction_loss(pred, true).item() == pytest.approx((0.2 + 1e-6 + 0.5 + 1.0) / 4, rel=1e-5)
    assert losses.alpha_prediction_loss(pred, true, torch.zeros_like(weight)).item() == 0.0


def test_compositional_loss_zero_at_truth_and_by_hand():
    fg = torch.ones(1, 3, 1, 2)
    bg = torch.zeros(1, 3, 1, 2)
    true_alpha = torch.tensor([[[[0.25, 0.75]]]])
    image = losses.composite(true_alpha, fg, bg)
    assert losses.compositional_loss(true_alpha, fg, bg, image).item() == pytest.approx(1e-6, abs=1e-7)
    pred = torch.tensor([[[[0.5, 0.75]]]])
    # the first pixel is off by 0.25 in all three channels, the second exact
    assert losses.compositional_loss(pred, fg, bg, image).item() == pytest.approx(0.125, rel=1e-4)
    total, parts = losses.dim_overall_loss(pred, true_alpha, fg, bg, image)
    assert total.item() == pytest.approx(0.5 * parts["alpha"].item() + 0.5 * parts["comp"].item())


def test_unknown_mask():
    trimap = torch.tensor([0.0, 0.5, 1.0, 0.5])
    assert losses.unknown_mask(trimap).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_dim_network_shapes_widths_and_parameter_count():
    model = DIMNet(**TINY)
    image, trimap = torch.rand(2, 3, 64, 96), torch.full((2, 1, 64, 96), 0.5)
    out = model(image, trimap)
    assert out["alpha"].shape == (2, 1, 64, 96) and out["alpha_coarse"].shape == (2, 1, 64, 96)
    assert float(out["alpha"].detach().min()) >= 0 and float(out["alpha"].detach().max()) <= 1
    # refinement starts as the identity on the coarse alpha
    assert torch.allclose(out["alpha"], out["alpha_coarse"], atol=1e-6)
    small = DIMNet(widths=(16, 32, 64, 128, 256), refine_width=16)
    count = sum(p.numel() for p in small.parameters())
    assert 1_000_000 < count < 4_000_000


def test_objective_stages_freeze_the_right_parts():
    model = DIMNet(**TINY)
    objective = DIMObjective(model, coarse_steps=10, refine_steps=5)
    assert [objective.stage(s) for s in (0, 9, 10, 14, 15)] == ["coarse", "coarse", "refine", "refine", "joint"]
    assert objective.lr_factor("refinement", 3) == 0.0 and objective.lr_factor("encoder_decoder", 3) == 1.0
    assert objective.lr_factor("encoder_decoder", 12) == 0.0 and objective.lr_factor("refinement", 12) == 1.0
    assert objective.lr_factor("encoder_decoder", 20) == 1.0
    groups = objective.param_groups()
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    batch = _batch(2, 64)
    loss, parts = objective.loss(model, batch, 12)
    assert set(parts) == {"refined_alpha"}
    loss.backward()
    assert all(p.grad is None for p in model.encoder_decoder_parameters())
    assert all(p.grad is not None for p in model.refinement_parameters())
    _, parts = objective.loss(model, batch, 0)
    assert set(parts) == {"coarse_alpha", "coarse_comp"}
    _, parts = objective.loss(model, batch, 20)
    assert set(parts) == {"coarse_alpha", "coarse_comp", "refined_alpha"}


def overfit_losses(model, steps: int = 70) -> tuple[float, float]:
    """The first training loss and the loss after ``steps`` Adam steps on one tiny batch
    (the latter in eval mode: batch-norm running statistics)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    objective = DIMObjective(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = _batch(2, 64, seed=5)
    first = None
    for step in range(steps):
        loss, _ = objective.loss(model, batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    model.eval()
    with torch.no_grad():
        final, _ = objective.loss(model, batch, steps)
    return first, final.item()


def test_overfits_a_tiny_batch():
    torch.manual_seed(0)
    first, final = overfit_losses(DIMNet(**TINY))
    assert final < first / 10, (first, final)


def test_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    model = build_model("dim", **TINY)
    model.eval()
    path = save_weights(tmp_path / "w.pt", "dim", TINY, model, {"step": 3})
    loaded = load_weights(path, expect="dim")
    image, trimap = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.5)
    with torch.no_grad():
        assert torch.equal(model(image, trimap)["alpha"], loaded(image, trimap)["alpha"])
    with pytest.raises(InputError, match="not 'other'"):
        load_weights(path, expect="other")


def test_registry_finds_dim():
    from mattebox.models.dim import estimate_alpha_dim
    from mattebox.registry import get_method

    spec = get_method("dim")
    assert spec.needs == "trimap" and spec.fn is estimate_alpha_dim
    assert get_method("deep-image-matting").name == "dim"


def test_missing_weights_say_how_to_train(monkeypatch, tmp_path):
    from mattebox.models import dim

    monkeypatch.setattr(dim, "DEFAULT_WEIGHTS", tmp_path / "dim_small.pt")
    image, _, _, _, trimap = make_composite()
    with pytest.raises(InputError, match="mattebox train configs/dim_small.toml"):
        dim.estimate_alpha_dim(image, trimap)
    with pytest.raises(InputError, match="does not exist"):
        dim.estimate_alpha_dim(image, trimap, weights=tmp_path / "nope.pt")
    # nothing unknown: no network needed
    known = (trimap > 0.5).astype(float)
    assert np.array_equal(dim.estimate_alpha_dim(image, known), known)


def test_method_runs_with_given_weights(tmp_path):
    from mattebox.models import dim

    model = build_model("dim", **TINY)
    path = save_weights(tmp_path / "w.pt", "dim", TINY, model)
    image, alpha, _, _, trimap = make_composite(50, 70)
    pred = dim.estimate_alpha_dim(image, trimap, weights=path)
    assert pred.shape == alpha.shape and pred.dtype == np.float64
    assert np.all(pred[trimap == 1] == 1) and np.all(pred[trimap == 0] == 0)
    refined = dim.estimate_alpha_dim(image, trimap, weights=path, refine="laplacian")
    assert refined.shape == alpha.shape and not np.array_equal(refined, pred)
    assert np.all(refined[trimap == 1] == 1) and np.all(refined[trimap == 0] == 0)
    with pytest.raises(InputError, match="refine must be one of none, laplacian"):
        dim.estimate_alpha_dim(image, trimap, weights=path, refine="crf")
    with pytest.raises(InputError, match="not a device name"):
        dim.estimate_alpha_dim(image, trimap, weights=path, device="gpu0")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not weights")
    with pytest.raises(InputError, match="not a readable mattebox weights file"):
        dim.estimate_alpha_dim(image, trimap, weights=junk)
    # None where the annotation admits it passes the registry's option check: never tile
    import mattebox

    untiled = mattebox.estimate_alpha(image, trimap, method="dim", weights=str(path), tile_size=None)
    assert np.array_equal(untiled, pred)
    # flip: the mean of the matte and the mirrored image's matte mirrored back
    flipped = dim.estimate_alpha_dim(image, trimap, weights=path, flip=True)
    mirrored = dim.estimate_alpha_dim(image[:, ::-1], trimap[:, ::-1], weights=path)[:, ::-1]
    np.testing.assert_allclose(flipped, 0.5 * (pred + mirrored), atol=1e-6)
    assert not np.allclose(flipped, pred)
    with pytest.raises(InputError, match="flip must be True or False"):
        dim.estimate_alpha_dim(image, trimap, weights=path, flip="yes")


def test_shipped_weights_beat_a_flat_guess():
    """The shipped model must do better than alpha = 0.5 on the unknown band of a soft disc."""
    from mattebox import metrics
    from mattebox.models import dim

    if not dim.DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped DIM weights in this checkout")
    image, alpha, _, _, trimap = make_composite(96, 128, seed=2)
    pred = dim.estimate_alpha_dim(image, trimap)
    flat = np.where(trimap == 0.5, 0.5, trimap)
    assert metrics.sad(pred, alpha, trimap) < 0.5 * metrics.sad(flat, alpha, trimap)
    assert math.isfinite(metrics.mse(pred, alpha, trimap))


def test_pure_weight_scales_the_pure_unknown_pixels():
    class Fixed(torch.nn.Module):
        def __init__(self, alpha):
            super().__init__()
            self.alpha = alpha

        def forward(self, image, trimap, refine=True, coarse_grad=True):
            return {"alpha": self.alpha, "alpha_coarse": self.alpha}

    true = torch.tensor([0.0, 1.0, 0.5, 0.3]).view(1, 1, 2, 2)  # two pure, two fractional
    pred = torch.tensor([0.2, 0.8, 0.5, 0.3]).view(1, 1, 2, 2)  # wrong by 0.2 on the pure ones
    batch = {"image": torch.zeros(1, 3, 2, 2), "fg": torch.zeros(1, 3, 2, 2), "bg": torch.zeros(1, 3, 2, 2),
             "alpha": true, "trimap": torch.full((1, 1, 2, 2), 0.5)}
    plain, _ = DIMObjective(Fixed(pred), refine_steps=1).loss(Fixed(pred), batch, 0)
    weighted, _ = DIMObjective(Fixed(pred), refine_steps=1, pure_weight=3.0).loss(Fixed(pred), batch, 0)
    assert plain.item() == pytest.approx(0.4 / 4, abs=1e-6)  # the paper's mean over the unknown pixels
    assert weighted.item() == pytest.approx(3 * 0.4 / (3 * 2 + 2), abs=1e-6)
    for bad in (0.0, -1.0, "3", True):
        with pytest.raises(InputError, match="pure_weight"):
            DIMObjective(Fixed(pred), pure_weight=bad)


def test_norm_per_sample_keeps_each_sample_to_its_own_statistics():
    torch.manual_seed(0)
    model = DIMNet(**TINY, batch_norm=True)
    model.train()
    batch = _batch(2, 64)
    other = {key: value.clone() for key, value in batch.items()}
    other["image"][1] = 1.0 - other["image"][1]  # a different second composite
    alone = {key: value[:1] for key, value in batch.items()}
    with torch.no_grad():
        for per_sample in (True, False):
            objective = DIMObjective(model, norm_per_sample=per_sample)
            first = objective._forward(model, batch, "joint")["alpha"][0]
            again = objective._forward(model, other, "joint")["alpha"][0]
            # with its own statistics the first sample's alpha ignores its batch-mate
            assert torch.equal(first, again) == per_sample
            if per_sample:  # and is what the sample gets when it is a batch of one
                assert torch.allclose(first, objective._forward(model, alone, "joint")["alpha"][0], atol=1e-6)
    with pytest.raises(InputError, match="norm_per_sample"):
        DIMObjective(model, norm_per_sample="yes")
