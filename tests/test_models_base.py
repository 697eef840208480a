"""The shared mattor machinery: normalisation, padding, restoring known regions, tiling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import make_composite
from mattebox.models import base


class SmallField(base.Mattor):
    """Two 3x3 convolutions: a receptive field reaching 2 pixels, so tiling must be exact."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 1, 3, padding=1))
        self.calls: list[tuple[int, int]] = []

    def forward(self, image, trimap):
        self.calls.append(tuple(image.shape[-2:]))
        return {"alpha": torch.sigmoid(self.net(base.normalise_input(image, trimap)))}


def test_normalise_input_maps_trimap_to_minus_one_zero_one():
    image = torch.full((1, 3, 2, 2), 0.485)
    trimap = torch.tensor([[[[0.0, 0.5], [1.0, 0.5]]]])
    x = base.normalise_input(image, trimap)
    assert x.shape == (1, 4, 2, 2)
    assert torch.allclose(x[0, 0], torch.zeros(2, 2), atol=1e-6)  # the mean maps to 0
    assert x[0, 3].tolist() == [[-1.0, 0.0], [1.0, 0.0]]


def test_padded_size_and_pad_inputs_reflect():
    assert [base.padded_size(n) for n in (1, 32, 33, 800)] == [32, 32, 64, 800]
    image = np.zeros((40, 33, 3))
    image[:, :, 0] = np.arange(33)[None, :] / 100
    trimap = np.full((40, 33), 0.5)
    padded = base.pad_inputs(image, trimap)
    assert padded.shape == (1, 4, 64, 64)
    # reflection without repeating the edge: column 33 mirrors column 31
    assert padded[0, 0, 0, 33].item() == pytest.approx(0.31)
    assert padded[0, 0, 0, 32].item() == pytest.approx(0.32)
    # a 5x5 image is too small to reflect 27 pixels: edge replication instead
    tiny = base.pad_inputs(np.ones((5, 5, 3)) * 0.2, np.full((5, 5), 0.5))
    assert tiny.shape == (1, 4, 32, 32) and torch.allclose(tiny[0, :3], torch.full((3, 32, 32), 0.2))


def test_restore_known_sets_trimap_regions():
    alpha = np.array([[0.3, 0.3, 1.2]])
    trimap = np.array([[0.0, 0.5, 1.0]])
    assert base.restore_known(alpha, trimap).tolist() == [[0.0, 0.3, 1.0]]


def test_tile_starts_cover_and_end_flush():
    assert base.tile_starts(64, 128, 64) == [0]
    assert base.tile_starts(320, 128, 64) == [0, 64, 128, 192]
    assert base.tile_starts(300, 128, 96) == [0, 96, 172]


def test_blend_weights_halo_ramp_and_partition_of_unity():
    w = base.blend_weights_1d(16, True, True, halo=2, ramp=4)
    assert w[:2].tolist() == [0.0, 0.0] and w[-2:].tolist() == [0.0, 0.0]
    assert w[2] == pytest.approx(0.125) and w[6:10].tolist() == [1.0] * 4
    # two tiles overlapping by 2 halo + ramp: weights sum to 1 wherever either is positive
    tile, halo, ramp = 16, 2, 4
    left = base.blend_weights_1d(tile, False, True, halo, ramp)
    right = base.blend_weights_1d(tile, True, False, halo, ramp)
    step = tile - 2 * halo - ramp
    total = np.zeros(tile + step)
    total[:tile] += left
    total[step:] += right
    assert np.allclose(total, 1.0)


def test_tiled_equals_untiled_for_small_receptive_field():
    image, _, _, _, trimap = make_composite(150, 230, seed=3)
    trimap = np.full_like(trimap, 0.5)  # everything unknown: every tile runs
    model = SmallField()
    whole = base.predict_alpha(model, image, trimap, tile_size=None)
    model.calls.clear()
    tiled = base.predict_alpha(model, image, trimap, tile_size=96, halo=8, ramp=16)
    assert len(model.calls) > 4 and all(c[0] <= 96 and c[1] <= 96 for c in model.calls)
    assert tiled.shape == (150, 230) and tiled.dtype == np.float64
    assert np.max(np.abs(tiled - whole)) < 1e-5


def test_tiles_without_unknown_pixels_are_skipped_and_known_restored():
    image, _, _, _, _ = make_composite(96, 320, seed=1)
    trimap = np.zeros((96, 320))
    trimap[:, 200:] = 1.0
    trimap[10:20, 250:260] = 0.5  # unknown pixels only near the right end
    model = SmallField()
    alpha = base.predict_alpha(model, image, trimap, tile_size=96, halo=8, ramp=16)
    assert len(model.calls) < len(base.tile_starts(320, 96, 64))
    assert np.all(alpha[trimap == 0] == 0) and np.all(alpha[trimap == 1] == 1)
    assert np.all((alpha[trimap == 0.5] > 0) & (alpha[trimap == 0.5] < 1))


def test_bad_tile_size_is_refused():
    image, _, _, _, trimap = make_composite(100, 100)
    from mattebox.errors import InputError

    with pytest.raises(InputError, match="multiple of 32"):
        base.predict_alpha(SmallField(), image, trimap, tile_size=50)
    with pytest.raises(InputError, match="halo"):
        base.predict_alpha(SmallField(), image, trimap, tile_size=64, halo=32, ramp=16)
    # refused before any work, even where the image fits one tile
    small_image, _, _, _, small_trimap = make_composite(20, 20)
    for options, match in [({"halo": -1}, "halo must be a whole number >= 0"),
                           ({"ramp": 2.5}, "ramp must be a whole number"),
                           ({"tile_size": -5}, "tile_size must be a whole number >= 32"),
                           ({"device": "foo"}, "not a device name"),
                           ({"device": "cuda:7"}, "not available on this machine")]:
        with pytest.raises(InputError, match=match):
            base.predict_alpha(SmallField(), small_image, small_trimap, **options)


def test_predict_keeps_training_mode_and_odd_sizes_work():
    from mattebox.models.dim.network import DIMNet

    torch.manual_seed(0)
    model = DIMNet(widths=(4, 4, 8, 8, 8), refine_width=4)
    model.train()
    image, _, _, _, trimap = make_composite(37, 51)
    alpha = model.predict(image, trimap)
    assert model.training
    assert alpha.shape == (37, 51) and np.all((alpha >= 0) & (alpha <= 1))


def test_scale_runs_the_network_on_a_shrunk_copy_and_restores_the_size():
    from mattebox.errors import InputError

    image, _, _, _, trimap = make_composite(150, 230, seed=3)
    model = SmallField()
    alpha = base.predict_alpha(model, image, trimap, tile_size=None, scale=0.5)
    assert model.calls == [(96, 128)]  # 75 x 115 padded to multiples of 32
    assert alpha.shape == (150, 230) and np.all((alpha >= 0) & (alpha <= 1))
    assert np.all(alpha[trimap == 0] == 0) and np.all(alpha[trimap == 1] == 1)
    whole = base.predict_alpha(model, image, trimap, tile_size=None)
    unknown = trimap == 0.5
    assert np.abs(alpha - whole)[unknown].mean() < 0.1  # a smooth field changes little
    assert np.array_equal(base.predict_alpha(model, image, trimap, tile_size=None, scale=1.0), whole)
    for bad in (0.0, 1.5, -1, "abc", None):
        with pytest.raises(InputError, match="scale"):
            base.predict_alpha(model, image, trimap, scale=bad)


def _batch_norm_dim():
    from mattebox.models.dim.network import DIMNet

    torch.manual_seed(1)
    model = DIMNet(widths=(4, 4, 8, 8, 8), refine_width=4, batch_norm=True)
    for module in model.modules():  # running statistics unlike any image's
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 3)
    return model.eval()


def test_image_statistics_on_one_tile_are_batch_norm_on_the_image(monkeypatch):
    model = _batch_norm_dim()
    image, _, _, _, trimap = make_composite(70, 90, seed=4)
    running = model.predict(image, trimap)
    own = model.predict(image, trimap, norm_stats="image")
    assert np.abs(own - running)[trimap == 0.5].max() > 1e-3  # the option changes the matte
    assert np.all(own[trimap == 0] == 0) and np.all(own[trimap == 1] == 1)
    # the same network run with batch norm normalising by its input's own statistics
    # (layers with one value per channel keep the running ones, as the option does)
    expected_model = _batch_norm_dim()

    def own_statistics(self, x):
        if x.numel() // x.shape[1] < 2:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        return nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    monkeypatch.setattr(nn.BatchNorm2d, "forward", own_statistics)
    expected = expected_model.predict(image, trimap)
    monkeypatch.undo()
    assert np.abs(own - expected).max() < 1e-4
    # the model itself is left as it was
    assert np.array_equal(model.predict(image, trimap), running)


def test_image_statistics_pool_over_tiles_and_refuse_bad_values():
    from mattebox.errors import InputError

    model = _batch_norm_dim()
    image, _, _, _, trimap = make_composite(200, 330, seed=5)
    tiled = base.predict_alpha(model, image, trimap, tile_size=128, halo=16, ramp=16, norm_stats="image")
    whole = base.predict_alpha(model, image, trimap, tile_size=None, norm_stats="image")
    running = base.predict_alpha(model, image, trimap, tile_size=128, halo=16, ramp=16)
    unknown = trimap == 0.5
    # pooled over tiles the statistics approach the whole image's: nearer than the running ones
    assert np.abs(tiled - whole)[unknown].mean() < np.abs(running - whole)[unknown].mean()
    tiny = base.predict_alpha(model, image[:20, :20], trimap[:20, :20], norm_stats="image")
    assert tiny.shape == (20, 20)
    assert np.array_equal(base.predict_alpha(SmallField(), image, trimap, norm_stats="image"),
                          base.predict_alpha(SmallField(), image, trimap))  # no batch norm: no change
    for bad in ("batch", "", 1):
        with pytest.raises(InputError, match="norm_stats"):
            base.predict_alpha(model, image, trimap, norm_stats=bad)


def test_weights_file_names_the_statistics_its_model_predicts_with(tmp_path):
    from mattebox.errors import InputError
    from mattebox.models import load_weights, save_weights

    model = _batch_norm_dim()
    image, _, _, _, trimap = make_composite(70, 90, seed=4)
    options = {"widths": (4, 4, 8, 8, 8), "refine_width": 4, "batch_norm": True}
    save_weights(tmp_path / "image.pt", "dim", options, model, {"norm_stats": "image"})
    save_weights(tmp_path / "plain.pt", "dim", options, model)
    save_weights(tmp_path / "bad.pt", "dim", options, model, {"norm_stats": "batch"})
    own = load_weights(tmp_path / "image.pt")
    assert np.array_equal(own.predict(image, trimap), model.predict(image, trimap, norm_stats="image"))
    assert np.array_equal(own.predict(image, trimap, norm_stats="running"), model.predict(image, trimap))
    assert np.array_equal(load_weights(tmp_path / "plain.pt").predict(image, trimap), model.predict(image, trimap))
    with pytest.raises(InputError, match="norm_stats"):
        load_weights(tmp_path / "bad.pt")
