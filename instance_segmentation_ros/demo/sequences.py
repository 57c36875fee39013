"""Synthetic video sequences of moving shapes with exact identities, for scoring a tracker.

A sequence is a static camera over one of the demo scenes' backgrounds, with circles, squares
and triangles (drawn as in `scenes`, same geometry convention) that move at several speeds,
turn, cross and hide one another, and enter and leave the frame. Everything is a closed-form
function of a plan drawn from the seed, so frame `k` of sequence `index` of `seed` is the same
whenever and however often it is made, and the frames can be made one at a time.

Each object keeps its depth for the whole sequence: a nearer object hides a farther one where
they overlap, and an object's ground-truth mask is its *visible* part. An object is annotated
in a frame while at least `min_area` of its pixels are visible, which is also what the demo
model was trained to find; below that it is in the frame but neither a miss nor a detection.

Stamps are the camera's: `frame / fps` plus a little jitter, so a tracker fed every third or
fifth frame (a slow model in `latest` mode) sees the real time between the frames it gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..core.detections import Instances
from .scenes import CIRCLE, LABELS, _background, scene_rng, shape_mask

BACKGROUND_KINDS = ('noise', 'gradient', 'stripes', 'checker', 'blobs')


@dataclass(frozen=True)
class SequenceSettings:
    """What a sequence holds; sizes in pixels (as `scenes`), speeds in pixels per second.

    `walkers` start in the frame and turn back at its borders; `passers` come in over a
    border at a random time, cross the frame on a straight line and leave it.
    """

    width: int = 320
    height: int = 240
    frames: int = 150
    fps: float = 30.0
    walkers: int = 4
    passers: int = 3
    min_size: float = 30.0
    max_size: float = 80.0
    min_speed: float = 20.0
    max_speed: float = 200.0
    max_turn: float = 1.0  # radians per second a square or triangle may turn
    min_area: int = 80
    stamp_jitter_s: float = 0.002
    min_contrast: float = 60.0


@dataclass(frozen=True)
class ObjectPlan:
    """One object's whole life: class, look, depth and motion (time 0 = first frame)."""

    identity: int  # 1-based, unique in the sequence
    class_id: int
    size: float
    colour: tuple[float, float, float]  # RGB
    shade: tuple[float, float, float]  # shading direction x, y and strength
    texture: float  # standard deviation of the per-frame texture noise
    start: tuple[float, float]  # centre (x, y) at `appears_s`
    velocity: tuple[float, float]  # pixels per second
    angle: float
    turn: float  # radians per second
    appears_s: float
    bounces: bool  # walkers turn back at the borders, passers go on and leave

    def pose(self, time_s: float, width: int, height: int) -> tuple[tuple[float, float], float]:
        """Centre (x, y) and angle at `time_s` seconds after the first frame."""
        elapsed = time_s - self.appears_s
        x = self.start[0] + self.velocity[0] * elapsed
        y = self.start[1] + self.velocity[1] * elapsed
        if self.bounces:
            reach = self.size / 2.0
            x = _reflect(x, reach, width - reach)
            y = _reflect(y, reach, height - reach)
        return (x, y), self.angle + self.turn * elapsed


@dataclass
class TruthObject:
    """An object as a frame shows it: identity, class and visible mask (bool H x W)."""

    identity: int
    class_id: int
    centre: tuple[float, float]
    visible: float  # the share of the object's pixels in the frame that no nearer one hides
    mask: np.ndarray = field(repr=False)

    @property
    def name(self) -> str:
        """The class name."""
        return LABELS[self.class_id - 1]


@dataclass
class SequenceFrame:
    """One frame: RGB image, camera stamp and the annotated objects, nearest last."""

    index: int
    stamp_s: float
    image: np.ndarray
    objects: list[TruthObject]

    @property
    def bgr(self) -> np.ndarray:
        """The image in OpenCV's BGR order."""
        return cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR)


@dataclass
class Sequence:
    """A sequence's plan: background, objects (farthest first) and camera stamps."""

    seed: int
    index: int
    settings: SequenceSettings
    background: np.ndarray = field(repr=False)  # RGB float32
    objects: list[ObjectPlan]
    stamps_s: np.ndarray

    @property
    def name(self) -> str:
        """A name for files: `seq<seed>-<index>`."""
        return f'seq{self.seed}-{self.index:02d}'

    def __len__(self) -> int:
        return self.settings.frames

    def frame(self, number: int) -> SequenceFrame:
        """Frame `number` (0-based), made from the plan alone."""
        settings = self.settings
        height, width = settings.height, settings.width
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index, number, 1]))
        canvas = self.background.copy()
        stamp = float(self.stamps_s[number])
        time_s = number / settings.fps
        painted: list[tuple[ObjectPlan, tuple[float, float], np.ndarray]] = []
        for plan in self.objects:
            if time_s < plan.appears_s:
                continue
            centre, angle = plan.pose(time_s, width, height)
            full = shape_mask(height, width, plan.class_id, centre, plan.size, angle)
            if not full.any():
                continue
            _paint(rng, canvas, plan, centre, full)
            painted.append((plan, centre, full))
        canvas += rng.normal(0.0, 2.0, canvas.shape).astype(np.float32)
        image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        covered = np.zeros((height, width), bool)
        objects = []
        for plan, centre, full in reversed(painted):  # nearest first
            visible = full & ~covered
            covered |= full
            area = np.count_nonzero(visible)
            if area >= settings.min_area:
                objects.append(TruthObject(plan.identity, plan.class_id, centre,
                                           area / np.count_nonzero(full), visible))
        objects.reverse()
        return SequenceFrame(number, stamp, image, objects)

    def frames(self, stride: int = 1):
        """Yield frames 0, stride, 2 * stride, ... (what a tracker behind a slow model sees)."""
        for number in range(0, len(self), stride):
            yield self.frame(number)


def generate_sequence(seed: int = 0, index: int = 0,
                      settings: SequenceSettings | None = None) -> Sequence:
    """Sequence `index` of the set made from `seed` (the same arguments give the same one)."""
    settings = settings or SequenceSettings()
    rng = scene_rng(seed, 100_000 + index)  # apart from the still scenes of the same seed
    height, width = settings.height, settings.width
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    background = _background(rng, kind, height, width)
    duration = settings.frames / settings.fps
    plans = []
    for number in range(settings.walkers + settings.passers):
        walker = number < settings.walkers
        plans.append(_plan_object(rng, settings, background, number + 1, walker, duration))
    order = rng.permutation(len(plans))  # depth: painting order, farthest first
    jitter = rng.uniform(-settings.stamp_jitter_s, settings.stamp_jitter_s, settings.frames)
    stamps = np.arange(settings.frames) / settings.fps + jitter
    stamps[0] = 0.0
    return Sequence(seed, index, settings, background, [plans[i] for i in order],
                    np.maximum.accumulate(stamps))


def truth_instances(frame: SequenceFrame) -> tuple[Instances, np.ndarray]:
    """The frame's objects as perfect detections, and their identities (instance k = row k-1).

    What a flawless model would give a tracker: the label image holds every visible mask,
    boxes are the masks' pixel boxes, scores are 1.
    """
    height, width = frame.image.shape[:2]
    label_image = np.zeros((height, width), np.uint8)
    boxes, classes, areas, identities = [], [], [], []
    for number, truth in enumerate(frame.objects, start=1):
        label_image[truth.mask] = number
        rows = np.flatnonzero(truth.mask.any(axis=1))
        cols = np.flatnonzero(truth.mask.any(axis=0))
        boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
        classes.append(truth.class_id)
        areas.append(int(np.count_nonzero(truth.mask)))
        identities.append(truth.identity)
    count = len(frame.objects)
    instances = Instances(label_image=label_image,
                          boxes=np.asarray(boxes, np.float32).reshape(count, 4),
                          classes=np.asarray(classes, np.int64),
                          scores=np.ones(count, np.float32),
                          areas=np.asarray(areas, np.int64))
    return instances, np.asarray(identities, np.int64)


def _plan_object(rng: np.random.Generator, settings: SequenceSettings,
                 background: np.ndarray, identity: int, walker: bool,
                 duration: float) -> ObjectPlan:
    height, width = settings.height, settings.width
    class_id = int(rng.integers(1, len(LABELS) + 1))
    size = float(rng.uniform(settings.min_size, settings.max_size))
    speed = float(rng.uniform(settings.min_speed, settings.max_speed))
    heading = float(rng.uniform(0.0, 2.0 * math.pi))
    angle = 0.0 if class_id == CIRCLE else float(rng.uniform(0.0, 2.0 * math.pi))
    turn = 0.0 if class_id == CIRCLE else float(rng.uniform(-1.0, 1.0)) * settings.max_turn
    reach = size / 2.0
    if walker:
        start = (float(rng.uniform(reach, width - reach)),
                 float(rng.uniform(reach, height - reach)))
        appears = 0.0
    else:  # from just outside a border, heading across the frame through a point inside it
        border = int(rng.integers(4))
        along = float(rng.uniform(0.2, 0.8))
        outside = reach * math.sqrt(2.0) + 1.0
        start = ((along * width, -outside), (along * width, height + outside),
                 (-outside, along * height), (width + outside, along * height))[border]
        target = (float(rng.uniform(0.3, 0.7)) * width, float(rng.uniform(0.3, 0.7)) * height)
        heading = math.atan2(target[1] - start[1], target[0] - start[0])
        crossing = (width + height) / 2.0 / speed
        appears = float(rng.uniform(0.0, max(duration - crossing, 0.0)))
    velocity = (speed * math.cos(heading), speed * math.sin(heading))
    under = background.reshape(-1, 3).mean(axis=0)
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.linalg.norm(colour - under) >= settings.min_contrast:
            break
        colour = rng.uniform(0, 255, 3)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    shade = (float(direction[0]), float(direction[1]), float(rng.uniform(0.0, 0.3)))
    return ObjectPlan(identity, class_id, size, tuple(float(c) for c in colour), shade,
                      float(rng.uniform(0.0, 8.0)), (float(start[0]), float(start[1])),
                      velocity, angle, turn, appears, walker)


def _reflect(value: float, low: float, high: float) -> float:
    """`value` folded into [low, high] as a ball bouncing between two walls moves."""
    span = high - low
    if span <= 0:
        return (low + high) / 2.0
    phase = (value - low) % (2.0 * span)
    return low + (phase if phase <= span else 2.0 * span - phase)


def _paint(rng: np.random.Generator, canvas: np.ndarray, plan: ObjectPlan,
           centre: tuple[float, float], full: np.ndarray):
    """Fill an object's full mask with its colour, shading and fresh texture noise."""
    rows, cols = np.nonzero(full)
    extent = max(plan.size, 1.0)
    along = ((cols - centre[0]) * plan.shade[0] + (rows - centre[1]) * plan.shade[1]) / extent
    shade = 1.0 + plan.shade[2] * along
    texture = rng.normal(0.0, plan.texture, (len(rows), 3))
    colour = np.asarray(plan.colour, np.float32)
    canvas[rows, cols] = np.clip(colour[None, :] * shade[:, None] + texture, 0, 255)
