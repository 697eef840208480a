"""Trimaps: from ground truth, masks, scribbles, labelled regions and strokes, and boxes.

A trimap is H x W float64 with 0 (background), 0.5 (unknown) and 1 (foreground). Band widths
are in pixels and measured with the exact Euclidean distance, so bands are round, not square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np

from . import checks
from .errors import InputError

BACKGROUND, UNKNOWN, FOREGROUND = 0.0, 0.5, 1.0


def optimal_trimap(alpha: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """The optimal trimap of an alpha matte (AdaMatting, Eq. 2).

    Background where alpha == 0, foreground where alpha == 1, unknown where 0 < alpha < 1;
    ``tolerance`` widens "== 0" to "<= tolerance" (and "== 1" to ">= 1 - tolerance").
    """
    alpha = checks.as_alpha(alpha)
    trimap = np.full(alpha.shape, UNKNOWN)
    trimap[alpha <= tolerance] = BACKGROUND
    trimap[alpha >= 1.0 - tolerance] = FOREGROUND
    return trimap


def _erode(mask: np.ndarray, width: float) -> np.ndarray:
    """Pixels of ``mask`` farther than ``width`` from any pixel outside it."""
    if width <= 0:
        return mask.copy()
    if mask.all():
        return mask.copy()
    from scipy import ndimage

    return ndimage.distance_transform_edt(mask) > width


def _check_width(width: float, name: str = "width") -> float:
    if not np.isfinite(width) or width < 0:
        raise InputError(f"{name} must be a non-negative number of pixels, not {width}")
    return float(width)


def trimap_from_alpha(alpha: np.ndarray, width: float = 10, tolerance: float = 0.0) -> np.ndarray:
    """A trimap whose unknown band extends ``width`` pixels beyond the alpha's fractional region.

    Foreground = pixels with alpha >= 1 - tolerance farther than ``width`` from any other pixel;
    background likewise for alpha <= tolerance; everything else is unknown. This is the
    "dilate the unknown region" trimap of Deep Image Matting's training data.
    """
    alpha = checks.as_alpha(alpha)
    width = _check_width(width)
    trimap = np.full(alpha.shape, UNKNOWN)
    trimap[_erode(alpha <= tolerance, width)] = BACKGROUND
    trimap[_erode(alpha >= 1.0 - tolerance, width)] = FOREGROUND
    return trimap


def trimap_from_mask(
    mask: np.ndarray, width: float = 10, threshold: float = 0.5, soft_margin: float = 0.05
) -> np.ndarray:
    """A trimap from a binary or soft mask: an unknown band of ``width`` pixels on each side.

    The mask is cut at ``threshold``; pixels of a soft mask that are clearly fractional
    (between ``soft_margin`` and ``1 - soft_margin``) also stay unknown, so a soft edge is
    never forced to one side.
    """
    mask = checks.as_alpha(mask, "mask")
    width = _check_width(width)
    inside = mask >= threshold
    trimap = np.full(mask.shape, UNKNOWN)
    trimap[_erode(~inside, width)] = BACKGROUND
    trimap[_erode(inside, width)] = FOREGROUND
    trimap[(mask > soft_margin) & (mask < 1.0 - soft_margin)] = UNKNOWN
    return trimap


def trimap_from_scribbles(
    foreground: np.ndarray, background: np.ndarray, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """A trimap from fg / bg scribble masks: scribbled pixels are known, all others unknown.

    A pixel scribbled as both is an error (the message says how many).
    """
    fg = np.asarray(foreground, dtype=bool)
    bg = np.asarray(background, dtype=bool)
    if fg.shape != bg.shape:
        raise InputError(
            f"the foreground scribbles are {fg.shape} but the background ones {bg.shape}; "
            "draw both on the same image size"
        )
    if shape is not None and fg.shape != tuple(shape):
        raise InputError(f"the scribbles are {fg.shape} but the image is {tuple(shape)}")
    both = int(np.count_nonzero(fg & bg))
    if both:
        raise InputError(
            f"{both} pixel(s) are scribbled as both foreground and background; erase one of them"
        )
    trimap = np.full(fg.shape, UNKNOWN)
    trimap[fg] = FOREGROUND
    trimap[bg] = BACKGROUND
    return trimap


@dataclass(frozen=True)
class LabelledRegion:
    """A rectangle a person labelled foreground or background (active matting's 20 x 20 regions).

    ``top``, ``left`` is the upper-left corner in pixels; the rectangle is clipped to the image.
    """

    top: int
    left: int
    label: Literal["fg", "bg"]
    height: int = 20
    width: int = 20

    @classmethod
    def centred(
        cls, centre_y: float, centre_x: float, label: Literal["fg", "bg"], size: int = 20
    ) -> "LabelledRegion":
        """The ``size`` x ``size`` region centred on (``centre_y``, ``centre_x``)."""
        return cls(int(round(centre_y)) - size // 2, int(round(centre_x)) - size // 2, label, size, size)

    def slices(self, shape: Sequence[int]) -> tuple[slice, slice]:
        """Row and column slices of the region clipped to an image of ``shape``."""
        top, left = max(self.top, 0), max(self.left, 0)
        bottom = min(self.top + self.height, int(shape[0]))
        right = min(self.left + self.width, int(shape[1]))
        return slice(top, max(bottom, top)), slice(left, max(right, left))


#: Largest stroke radius in pixels (a wider brush is a region, not a stroke).
MAX_STROKE_RADIUS = 256


@dataclass(frozen=True)
class LabelledStroke:
    """A brush stroke a person painted foreground or background: the polyline through
    ``points`` ((y, x) pixel centres, in order) drawn with a round brush of ``radius`` pixels
    (0: one pixel wide). One point is a dot.

    Beyond the Active Matting paper (its future work): where a 20 x 20 region is too coarse for
    a thin structure, a person labels it with a stroke instead.

    >>> stroke = LabelledStroke(((2, 1), (2, 6)), "fg", radius=1)
    >>> stroke.mask((5, 8)).sum(axis=1).tolist()
    [0, 6, 8, 6, 0]
    """

    points: tuple[tuple[float, float], ...]
    label: Literal["fg", "bg"]
    radius: float = 3.0

    def __post_init__(self) -> None:
        if self.label not in ("fg", "bg"):
            raise InputError(f"a stroke's label must be 'fg' or 'bg', not {self.label!r}")
        try:
            points = np.asarray(self.points, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("a stroke's points must be (y, x) number pairs") from None
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise InputError(f"a stroke needs one or more (y, x) points, got an array of shape "
                             f"{points.shape}")
        if not np.isfinite(points).all():
            raise InputError("a stroke's points must be finite numbers")
        try:
            radius = float(self.radius)
        except (TypeError, ValueError):
            radius = math.nan
        if not (0.0 <= radius <= MAX_STROKE_RADIUS):
            raise InputError(f"a stroke's radius must be between 0 and {MAX_STROKE_RADIUS} pixels, "
                             f"not {self.radius}")
        object.__setattr__(self, "points", tuple((float(y), float(x)) for y, x in points))
        object.__setattr__(self, "radius", radius)

    def check_inside(self, shape: Sequence[int], what: str = "image") -> None:
        """InputError unless every point lies inside an image of ``shape``."""
        height, width = int(shape[0]), int(shape[1])
        for y, x in self.points:
            if not (0 <= y <= height - 1 and 0 <= x <= width - 1):
                raise InputError(f"stroke point (y {y:g}, x {x:g}) lies outside the {height}x{width} "
                                 f"{what}; use points with 0 <= y <= {height - 1} and "
                                 f"0 <= x <= {width - 1}")

    def scaled(self, scale_y: float, scale_x: float) -> "LabelledStroke":
        """The same stroke on an image resized by (``scale_y``, ``scale_x``): pixel centres
        map as (p + 1/2) s - 1/2, the radius by the mean scale."""
        points = tuple(((y + 0.5) * scale_y - 0.5, (x + 0.5) * scale_x - 0.5) for y, x in self.points)
        return LabelledStroke(points, self.label, self.radius * 0.5 * (scale_y + scale_x))

    def mask(self, shape: Sequence[int]) -> np.ndarray:
        """The painted pixels of an image of ``shape`` (bool): the polyline drawn one pixel
        wide (8-connected, end points at 1/16 pixel precision), then every pixel whose centre
        lies within ``radius`` of a line pixel's centre (clipped to the image)."""
        import cv2

        height, width = int(shape[0]), int(shape[1])
        mask = np.zeros((height, width), dtype=bool)
        # work in the stroke's bounding box grown by the radius (a stroke on a large photo)
        ys = [y for y, _ in self.points]
        xs = [x for _, x in self.points]
        reach = int(np.ceil(self.radius)) + 2
        top, left = max(int(np.floor(min(ys))) - reach, 0), max(int(np.floor(min(xs))) - reach, 0)
        bottom = min(int(np.ceil(max(ys))) + reach + 1, height)
        right = min(int(np.ceil(max(xs))) + reach + 1, width)
        if top >= bottom or left >= right:
            return mask
        line = np.full((bottom - top, right - left), 255, np.uint8)
        shift = 4
        points = [(int(round((x - left) * (1 << shift))), int(round((y - top) * (1 << shift))))
                  for y, x in self.points]
        if len(points) == 1:
            cv2.circle(line, points[0], 0, 0, -1, cv2.LINE_8, shift)
        else:
            cv2.polylines(line, [np.array(points, np.int32)], False, 0, 1, cv2.LINE_8, shift)
        distance = cv2.distanceTransform(line, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        mask[top:bottom, left:right] = distance <= self.radius
        return mask

    def paint(self, trimap: np.ndarray) -> np.ndarray:
        """Set the stroke's pixels of ``trimap`` (in place) to its label; returns their mask."""
        mask = self.mask(trimap.shape)
        trimap[mask] = FOREGROUND if self.label == "fg" else BACKGROUND
        return mask


def trimap_from_regions(
    shape: tuple[int, int], regions: Iterable[LabelledRegion | LabelledStroke],
    base: np.ndarray | None = None,
) -> np.ndarray:
    """The accumulated trimap of active matting: all unknown, then each region (or stroke) set
    fg or bg.

    Regions and strokes are applied in order, so a later answer overrides an earlier one where
    they overlap. ``base`` starts from an existing trimap instead of an all-unknown one.
    """
    trimap = np.full(tuple(shape), UNKNOWN) if base is None else checks.as_trimap(base).copy()
    for region in regions:
        if region.label not in ("fg", "bg"):
            raise InputError(f"a region's label must be 'fg' or 'bg', not {region.label!r}")
        if isinstance(region, LabelledStroke):
            region.paint(trimap)
            continue
        rows, cols = region.slices(trimap.shape)
        trimap[rows, cols] = FOREGROUND if region.label == "fg" else BACKGROUND
    return trimap


def trimap_from_box(
    image: np.ndarray,
    box: tuple[int, int, int, int] | None = None,
    width: float = 10,
    iterations: int = 5,
    foreground_seeds: np.ndarray | None = None,
) -> np.ndarray:
    """An automatic trimap: GrabCut segmentation inside ``box``, then an unknown band.

    ``box`` is (left, top, box_width, box_height) around the object; by default the central
    80% of the image. ``foreground_seeds`` (H x W bool) marks pixels known to be object.
    GrabCut (Rother et al. 2004, via OpenCV) gives a binary mask, and
    :func:`trimap_from_mask` turns it into a trimap with a ``width``-pixel band.
    """
    import cv2

    image = checks.as_image(image)
    height, img_width = image.shape[:2]
    if box is None:
        if min(height, img_width) < 4:
            raise InputError(f"the {img_width}x{height} image is too small for an automatic trimap "
                             f"(GrabCut needs a box inside it); use at least 4x4 pixels")
        box = (img_width // 10, height // 10, img_width * 8 // 10, height * 8 // 10)
    left, top, bw, bh = (int(v) for v in box)
    if bw < 2 or bh < 2 or left < 0 or top < 0 or left + bw > img_width or top + bh > height:
        raise InputError(f"box {box} must lie inside the {img_width}x{height} image")
    mask = np.zeros((height, img_width), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    pixels = (image * 255 + 0.5).astype(np.uint8)
    cv2.setRNGSeed(0)
    if foreground_seeds is None:
        cv2.grabCut(pixels, mask, (left, top, bw, bh), bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    else:
        seeds = np.asarray(foreground_seeds, dtype=bool)
        if seeds.shape != mask.shape:
            raise InputError(f"foreground_seeds is {seeds.shape}, the image {mask.shape}")
        mask[top : top + bh, left : left + bw] = cv2.GC_PR_FGD
        mask[seeds] = cv2.GC_FGD
        cv2.grabCut(pixels, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if not foreground.any():
        raise InputError("GrabCut found no foreground inside the box; draw a box around the object")
    return trimap_from_mask(foreground.astype(np.float64), width=width)


def unknown_fraction(trimap: np.ndarray) -> float:
    """Fraction of pixels the trimap marks unknown."""
    return float(np.mean(checks.as_trimap(trimap) == UNKNOWN))
