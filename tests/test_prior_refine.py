"""Laplacian refinement of a prior matte (mattebox.solvers.prior_refine)."""

import numpy as np
import pytest
from conftest import make_composite

from mattebox.errors import InputError
from mattebox.solvers.closed_form import estimate_alpha_cf
from mattebox.solvers.prior_refine import refine_alpha_laplacian


def test_no_weight_on_the_prior_is_closed_form():
    image, _, _, _, trimap = make_composite(40, 56, seed=1)
    prior = np.random.default_rng(0).uniform(0, 1, trimap.shape)
    refined = refine_alpha_laplacian(image, trimap, prior, gamma=0.0)
    assert np.allclose(refined, estimate_alpha_cf(image, trimap), atol=1e-5)


def test_a_heavy_prior_comes_back_and_known_pixels_stay():
    image, _, _, _, trimap = make_composite(40, 56, seed=1)
    prior = np.random.default_rng(0).uniform(0, 1, trimap.shape)
    refined = refine_alpha_laplacian(image, trimap, prior, gamma=1e6, power=0.0)
    unknown = trimap == 0.5
    assert np.abs(refined - prior)[unknown].max() < 1e-3
    assert np.array_equal(refined[~unknown], trimap[~unknown])


def test_unsure_pixels_are_filled_in_from_the_sure_ones():
    """A prior right on the pure pixels and 1/2 (no confidence) on the fractional ones: the
    refinement keeps the first and recovers the second from the image."""
    image, alpha, _, _, trimap = make_composite(48, 64, seed=3)
    unknown = trimap == 0.5
    fractional = unknown & (alpha > 0.02) & (alpha < 0.98)
    prior = alpha.copy()
    prior[fractional] = 0.5
    refined = refine_alpha_laplacian(image, trimap, prior)
    before = np.abs(prior - alpha)[fractional].mean()
    after = np.abs(refined - alpha)[fractional].mean()
    assert after < 0.25 * before
    assert np.abs(refined - alpha)[unknown & ~fractional].mean() < 0.02


def test_confident_wrong_pixels_win_only_with_weight():
    """Raising gamma pulls the matte towards the prior, continuously."""
    image, alpha, _, _, trimap = make_composite(40, 56, seed=2)
    prior = np.where(trimap == 0.5, 1.0 - alpha, alpha)  # sure and wrong
    gaps = [np.abs(refine_alpha_laplacian(image, trimap, prior, gamma=g) - prior)[trimap == 0.5].mean()
            for g in (1e-4, 1e-2, 1.0)]
    assert gaps[0] > gaps[1] > gaps[2]


@pytest.mark.parametrize("kwargs, match", [
    ({"gamma": -1.0}, "gamma must be a finite number >= 0"),
    ({"gamma": float("nan")}, "gamma must be a finite number >= 0"),
    ({"power": "2"}, "power must be a finite number >= 0"),
])
def test_bad_weights_say_what_is_wrong(kwargs, match):
    image, alpha, _, _, trimap = make_composite(24, 32)
    with pytest.raises(InputError, match=match):
        refine_alpha_laplacian(image, trimap, alpha, **kwargs)


def test_bad_priors_say_what_is_wrong():
    image, alpha, _, _, trimap = make_composite(24, 32)
    with pytest.raises(InputError, match="same size"):
        refine_alpha_laplacian(image, trimap, alpha[:-1])
    with pytest.raises(InputError, match="divide by 255"):
        refine_alpha_laplacian(image, trimap, alpha * 255)
    with pytest.raises(InputError, match="NaN"):
        refine_alpha_laplacian(image, trimap, np.where(trimap == 0.5, np.nan, alpha))
    with pytest.raises(InputError, match="the trimap is 32x23"):
        refine_alpha_laplacian(image, trimap[:-1], alpha)


def test_trimaps_on_the_0_255_scale_are_read_as_such():
    image, alpha, _, _, trimap = make_composite(24, 32)
    as_bytes = np.round(trimap * 255).astype(np.uint8)  # 0 / 128 / 255
    assert np.array_equal(refine_alpha_laplacian(image, as_bytes, alpha),
                          refine_alpha_laplacian(image, trimap, alpha))


def test_nothing_unknown_returns_the_trimap():
    image, alpha, _, _, trimap = make_composite(24, 32)
    known = (trimap > 0.5).astype(float)
    assert np.array_equal(refine_alpha_laplacian(image, known, alpha), known)


def test_refine_rejects_a_regulariser_or_radius_it_cannot_use():
    image = np.zeros((8, 8, 3))
    trimap = np.full((8, 8), 0.5)
    trimap[:, 0], trimap[:, -1] = 0.0, 1.0
    prior = np.full((8, 8), 0.5)
    with pytest.raises(InputError, match="epsilon"):
        refine_alpha_laplacian(image, trimap, prior, epsilon=0.0)
    with pytest.raises(InputError, match="radius"):
        refine_alpha_laplacian(image, trimap, prior, radius=0)
