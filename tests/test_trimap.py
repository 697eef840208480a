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


def test_a_stroke_paints_the_pixels_within_its_radius_of_the_line():
    stroke = tm.LabelledStroke([(10, 5), (10, 25), (30, 25)], "fg", radius=2)
    mask = stroke.mask((40, 40))
    yy, xx = np.mgrid[0:40, 0:40]
    # distance of every pixel centre to the two segments (horizontal, then vertical)
    to_first = np.hypot(yy - 10, xx - np.clip(xx, 5, 25))
    to_second = np.hypot(yy - np.clip(yy, 10, 30), xx - 25)
    distance = np.minimum(to_first, to_second)
    assert np.array_equal(mask, distance <= 2)
    dot = tm.LabelledStroke([(3, 4)], "bg", radius=0).mask((8, 8))
    assert dot.sum() == 1 and dot[3, 4]
    # a later stroke wins over an earlier region where they overlap
    trimap = tm.trimap_from_regions((40, 40), [tm.LabelledRegion(0, 0, "bg", 20, 20), stroke])
    assert trimap[10, 10] == tm.FOREGROUND and trimap[2, 2] == tm.BACKGROUND
    assert trimap[35, 35] == tm.UNKNOWN
    # scaling maps pixel centres: a stroke on a copy twice the size covers about 4x the pixels
    double = stroke.scaled(2.0, 2.0)
    assert double.radius == 4.0 and double.points[0] == (20.5, 10.5)
    assert abs(double.mask((80, 80)).sum() / mask.sum() - 4.0) < 0.5


def test_bad_strokes_are_input_errors():
    with pytest.raises(InputError, match="'fg' or 'bg'"):
        tm.LabelledStroke([(1, 1)], "maybe")
    with pytest.raises(InputError, match="one or more"):
        tm.LabelledStroke([], "fg")
    with pytest.raises(InputError, match="finite"):
        tm.LabelledStroke([(1, float("nan"))], "fg")
    with pytest.raises(InputError, match="number pairs"):
        tm.LabelledStroke([("a", "b")], "fg")
    with pytest.raises(InputError, match="radius"):
        tm.LabelledStroke([(1, 1)], "fg", radius=-1)
    with pytest.raises(InputError, match="outside the 10x20"):
        tm.LabelledStroke([(1, 1), (12, 3)], "fg").check_inside((10, 20))


def test_a_stroke_is_the_same_on_any_canvas_that_holds_it():
    stroke = tm.LabelledStroke([(3.2, 2.7), (30.5, 60.1), (12.0, 44.0)], "bg", radius=2.5)
    big = tm.LabelledStroke([(y + 50, x + 70) for y, x in stroke.points], "bg", radius=2.5)
    mask = big.mask((200, 300))
    assert np.array_equal(mask[50:90, 70:150], stroke.mask((40, 80)))
    assert mask.sum() == stroke.mask((40, 80)).sum()  # nothing painted outside the stroke's reach
    assert tm.LabelledStroke([(3, 4)], "fg", radius=1).mask((2, 2)).sum() == 0  # clipped away
