"""Trimap construction from alphas, masks, scribbles, regions and boxes."""

import numpy as np
import pytest

from mattebox import trimap as tm
from mattebox.errors import InputError


def test_optimal_trimap_is_adamatting_eq2():
    alpha = np.array([[0.0, 0.3, 1.0, 0.999]])
    np.testing.assert_array_equal(tm.optimal_trimap(alpha), [[0, 0.5, 1, 0.5]])
    np.testing.assert_array_equal(tm.optimal_trimap(alpha, tolerance=0.01), [[0, 0.5, 1, 1]])


def test_trimap_from_alpha_band_width_is_euclidean():
    alpha = np.zeros((41, 41))
    alpha[:, 20:] = 1.0
    trimap = tm.trimap_from_alpha(alpha, width=5)
    row = trimap[20]
    # background pixels farther than 5 px from the edge (distance to x=20 is 20 - x)
    assert (row[:15] == 0).all() and (row[15:20] == 0.5).all()
    # a foreground pixel x lies x - 19 from the nearest background pixel
    assert (row[20:25] == 0.5).all() and (row[25:] == 1).all()


def test_trimap_from_alpha_keeps_fractional_pixels_unknown():
    alpha = np.zeros((9, 9))
    alpha[4, 4] = 0.5
    trimap = tm.trimap_from_alpha(alpha, width=0)
    assert trimap[4, 4] == 0.5 and (np.delete(trimap.ravel(), 40) == 0).all()


def test_trimap_from_mask_binary_and_soft():
    mask = np.zeros((20, 20))
    mask[:, 10:] = 1
    trimap = tm.trimap_from_mask(mask, width=3)
    assert set(np.unique(trimap)) == {0, 0.5, 1}
    assert (trimap[:, 7:13] == 0.5).all() and (trimap[:, :7] == 0).all() and (trimap[:, 13:] == 1).all()
    soft = mask.copy()
    soft[:, 2] = 0.4  # a clearly fractional column deep in the background stays unknown
    assert (tm.trimap_from_mask(soft, width=3)[:, 2] == 0.5).all()


def test_negative_width_is_an_input_error():
    with pytest.raises(InputError, match="non-negative"):
        tm.trimap_from_alpha(np.zeros((4, 4)), width=-1)


def test_trimap_from_scribbles_and_conflicts():
    fg = np.zeros((4, 4), bool)
    bg = np.zeros((4, 4), bool)
    fg[0, 0] = True
    bg[3, 3] = True
    trimap = tm.trimap_from_scribbles(fg, bg)
    assert trimap[0, 0] == 1 and trimap[3, 3] == 0 and (trimap == 0.5).sum() == 14
    bg[0, 0] = True
    with pytest.raises(InputError, match="both"):
        tm.trimap_from_scribbles(fg, bg)


def test_accumulated_trimap_of_labelled_regions():
    regions = [tm.LabelledRegion(0, 0, "fg"), tm.LabelledRegion(10, 10, "bg"),
               tm.LabelledRegion.centred(45, 45, "fg")]
    trimap = tm.trimap_from_regions((50, 50), regions)
    assert (trimap[:10, :20] == 1).all() and (trimap[:20, :10] == 1).all()
    assert (trimap[10:30, 10:30] == 0).all()  # the later answer overrides the overlap
    assert (trimap[30:35, :] == 0.5).all()
    assert (trimap[35:50, 35:50] == 1).all()  # clipped at the border: 15 x 15 pixels
    assert (trimap == 1).sum() == 400 - 100 + 225 and (trimap == 0).sum() == 400
    with pytest.raises(InputError, match="label"):
        tm.trimap_from_regions((5, 5), [tm.LabelledRegion(0, 0, "maybe")])


def test_trimap_from_box_finds_a_clear_object():
    image = np.full((60, 80, 3), [0.1, 0.2, 0.8])
    image[20:40, 30:50] = [0.9, 0.8, 0.1]
    trimap = tm.trimap_from_box(image, (20, 10, 40, 40), width=2)
    assert trimap[30, 40] == 1 and trimap[5, 5] == 0
    assert (trimap == 0.5).any()
    with pytest.raises(InputError, match="inside"):
        tm.trimap_from_box(image, (70, 10, 40, 40))
