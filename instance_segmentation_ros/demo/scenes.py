"""Synthetic scenes of circles, squares and triangles with exact instance masks.

The generator is deterministic from a seed and needs only numpy and OpenCV, so the package
can make held-out scenes at run time (the built-in demo) as well as a training set.

Geometry convention: pixel (row r, column c) covers the unit square whose centre is the
point (x, y) = (c + 0.5, r + 0.5). A pixel belongs to a shape when its centre lies inside
(or on the border of) the shape, so every mask is a closed-form function of the recorded
shape parameters; images are painted with those very masks (no anti-aliasing), so pixels
and masks agree exactly.

Shapes are painted in order and later shapes occlude earlier ones. An instance's mask is
its *visible* part. A placement that would hide an earlier shape below `min_visible` of its
area (or below `min_area` pixels) is rejected and tried again elsewhere, so every painted
shape is annotated and no unlabeled fragments are left in an image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

LABELS = ('circle', 'square', 'triangle')
CIRCLE, SQUARE, TRIANGLE = 1, 2, 3
BACKGROUNDS = ('noise', 'gradient', 'stripes', 'checker', 'blobs')


@dataclass
class SceneSettings:
    """What a scene may hold; sizes in pixels (circle diameter, square or triangle side)."""

    width: int = 320
    height: int = 240
    min_objects: int = 2
    max_objects: int = 7
    min_size: float = 20.0
    max_size: float = 100.0
    min_visible: float = 0.5
    min_area: int = 80
    max_tries: int = 30
    min_contrast: float = 60.0


@dataclass
class Instance:
    """One shape: its class, the parameters that define it and its visible mask."""

    class_id: int
    centre: tuple[float, float]  # (x, y), see the module's geometry convention
    size: float  # circle diameter, square side or triangle side
    angle: float  # radians, 0 for circles
    colour: tuple[int, int, int]  # RGB base colour
    vertices: np.ndarray | None  # (k, 2) x, y counter-clockwise on screen; None for circles
    full_mask: np.ndarray = field(repr=False)  # the whole shape, bool (H, W)
    mask: np.ndarray = field(repr=False)  # the visible part, bool (H, W)

    @property
    def name(self) -> str:
        """The class name."""
        return LABELS[self.class_id - 1]

    @property
    def radius(self) -> float:
        """A circle's radius (half the size)."""
        return self.size / 2.0

    @property
    def bbox(self) -> list[int]:
        """COCO [x, y, width, height] of the visible mask, in whole pixels."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
                int(rows[-1] - rows[0] + 1)]


@dataclass
class Scene:
    """An RGB uint8 image (H, W, 3) and its instances in painting order."""

    image: np.ndarray
    instances: list[Instance]
    background: str

    @property
    def bgr(self) -> np.ndarray:
        """The image in OpenCV's BGR order."""
        return cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR)


def scene_rng(seed: int, index: int = 0) -> np.random.Generator:
    """The random generator of scene `index` of the dataset made from `seed`."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate_scene(seed: int = 0, index: int = 0,
                   settings: SceneSettings | None = None) -> Scene:
    """Scene `index` of the dataset made from `seed` (the same arguments give the same scene)."""
    settings = settings or SceneSettings()
    rng = scene_rng(seed, index)
    height, width = settings.height, settings.width
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    canvas = _background(rng, kind, height, width)
    instances: list[Instance] = []
    wanted = int(rng.integers(settings.min_objects, settings.max_objects + 1))
    for _ in range(wanted):
        instance = _place_shape(rng, settings, instances)
        if instance is None:
            continue
        for earlier in instances:
            earlier.mask &= ~instance.full_mask
        _paint(rng, canvas, instance, settings)
        instances.append(instance)
    sigma = rng.uniform(0.0, 6.0)
    canvas += rng.normal(0.0, sigma, canvas.shape).astype(np.float32)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return Scene(image, instances, kind)


def generate_scenes(count: int, seed: int = 0, settings: SceneSettings | None = None):
    """Yield scenes 0..count-1 of the dataset made from `seed`."""
    for index in range(count):
        yield generate_scene(seed, index, settings)


def disc_mask(height: int, width: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Pixels whose centre lies in the closed disc."""
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    return (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= radius * radius


def polygon_mask(height: int, width: int, vertices: np.ndarray) -> np.ndarray:
    """Pixels whose centre lies in the closed convex polygon (vertices in either order)."""
    vertices = np.asarray(vertices, np.float64)
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    x0, y0 = vertices[:, 0], vertices[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    area2 = float(np.sum(x0 * y1 - x1 * y0))
    sign = 1.0 if area2 >= 0 else -1.0
    inside = np.ones((height, width), bool)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        inside &= sign * ((bx - ax) * (ys - ay) - (by - ay) * (xs - ax)) >= -1e-9
    return inside


def shape_vertices(class_id: int, centre: tuple[float, float], size: float,
                   angle: float) -> np.ndarray | None:
    """Corners of a square or equilateral triangle of side `size`; None for a circle."""
    if class_id == CIRCLE:
        return None
    if class_id == SQUARE:
        radius, corners = size / math.sqrt(2.0), 4
        start = angle + math.pi / 4.0
    else:
        radius, corners = size / math.sqrt(3.0), 3
        start = angle - math.pi / 2.0
    steps = start + np.arange(corners) * (2.0 * math.pi / corners)
    return np.stack([centre[0] + radius * np.cos(steps), centre[1] + radius * np.sin(steps)],
                    axis=1)


def shape_mask(height: int, width: int, class_id: int, centre: tuple[float, float],
               size: float, angle: float) -> np.ndarray:
    """The full (unoccluded) mask of a shape from its parameters."""
    if class_id == CIRCLE:
        return disc_mask(height, width, centre, size / 2.0)
    return polygon_mask(height, width, shape_vertices(class_id, centre, size, angle))


def label_text() -> str:
    """The label map as a text file (one name per line, ids 1..N)."""
    return '\n'.join(LABELS) + '\n'


def _place_shape(rng: np.random.Generator, settings: SceneSettings,
                 instances: list[Instance]) -> Instance | None:
    height, width = settings.height, settings.width
    class_id = int(rng.integers(1, len(LABELS) + 1))
    for _ in range(settings.max_tries):
        size = float(rng.uniform(settings.min_size, settings.max_size))
        reach = size / 2.0
        centre = (float(rng.uniform(reach * 0.6, width - reach * 0.6)),
                  float(rng.uniform(reach * 0.6, height - reach * 0.6)))
        angle = 0.0 if class_id == CIRCLE else float(rng.uniform(0.0, 2.0 * math.pi))
        full = shape_mask(height, width, class_id, centre, size, angle)
        area = int(full.sum())
        if area < settings.min_area:
            continue
        if not all(_still_visible(earlier, full, settings) for earlier in instances):
            continue
        return Instance(class_id, centre, size, angle, (0, 0, 0),
                        shape_vertices(class_id, centre, size, angle), full, full.copy())
    return None


def _still_visible(earlier: Instance, occluder: np.ndarray, settings: SceneSettings) -> bool:
    left = int(np.count_nonzero(earlier.mask & ~occluder))
    return left >= settings.min_area and left >= settings.min_visible * earlier.full_mask.sum()


def _paint(rng: np.random.Generator, canvas: np.ndarray, instance: Instance,
           settings: SceneSettings):
    """Fill the shape with a colour that stands out from what lies under it, lightly shaded."""
    under = canvas[instance.full_mask].mean(axis=0)
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.linalg.norm(colour - under) >= settings.min_contrast:
            break
        colour = rng.uniform(0, 255, 3)
    instance.colour = tuple(int(v) for v in np.rint(colour))
    rows, cols = np.nonzero(instance.full_mask)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    extent = max(instance.size, 1.0)
    along = ((cols - instance.centre[0]) * direction[0]
             + (rows - instance.centre[1]) * direction[1]) / extent
    shade = 1.0 + rng.uniform(0.0, 0.3) * along
    texture = rng.normal(0.0, rng.uniform(0.0, 8.0), (len(rows), 3))
    canvas[rows, cols] = np.clip(colour[None, :] * shade[:, None] + texture, 0, 255)


def _background(rng: np.random.Generator, kind: str, height: int, width: int) -> np.ndarray:
    """A textured RGB float32 background of the given kind."""
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 'noise':
        scale = int(rng.integers(2, 16))
        small = rng.uniform(0, 1, (height // scale + 2, width // scale + 2, 1)).astype(np.float32)
        field_ = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        field_ = field_.reshape(height, width, 1)
    elif kind == 'gradient':
        theta = rng.uniform(0, 2 * math.pi)
        t = xs * math.cos(theta) + ys * math.sin(theta)
        field_ = ((t - t.min()) / max(float(np.ptp(t)), 1.0))[..., None]
    elif kind == 'stripes':
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(6, 40)
        t = xs * math.cos(theta) + ys * math.sin(theta)
        field_ = (0.5 + 0.5 * np.sin(2 * math.pi * t / period))[..., None]
        if rng.uniform() < 0.5:
            field_ = (field_ > 0.5).astype(np.float32)
    elif kind == 'checker':
        cell = rng.uniform(8, 40)
        theta = rng.uniform(0, math.pi / 2)
        u = xs * math.cos(theta) + ys * math.sin(theta)
        v = -xs * math.sin(theta) + ys * math.cos(theta)
        field_ = ((np.floor(u / cell) + np.floor(v / cell)) % 2)[..., None].astype(np.float32)
    else:  # blobs: smooth random colour patches
        small = rng.uniform(0, 255, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3))
        image = cv2.resize(small.astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        field_ = None
    if field_ is not None:
        image = c1[None, None, :] * (1 - field_) + c2[None, None, :] * field_
    image = image.astype(np.float32)
    if rng.uniform() < 0.4:
        k = int(rng.integers(1, 4)) * 2 + 1
        image = cv2.GaussianBlur(image, (k, k), 0)
    image += rng.normal(0.0, rng.uniform(0, 10), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.float32)
