"""Track ids for the instances of a camera's frames: the same object keeps its id over time.

One `MaskTracker` per camera is fed each processed frame's instances with the frame's stamp
and answers one track id per instance. Frames may come irregularly (a slow model in `latest`
mode skips frames), so motion is predicted by the time between stamps, never by frame count.

Association, per frame:
1. every track's last mask is shifted by its velocity times the time since it was last seen;
2. the predicted masks and the detected masks of the same class are matched by mask IoU
   (Hungarian assignment, `scipy.optimize.linear_sum_assignment`), pairs under `min_iou` never;
3. tracks and detections still unmatched (an object faster than its prediction, a new track
   without a velocity yet) are matched by the distance of their centres, in units of the
   track's size, up to `max_distance`.

Mask IoU is computed on the overlap of the two masks' boxes, never on full frames. A new track
is confirmed after `min_hits` detections and only then gets an id; an unconfirmed track that
misses a frame is dropped, a confirmed one lives `max_age` seconds without detections (an
occlusion, a missed detection) before its id is retired.

Ids are positive and fit uint16 (a 16UC1 track-id image, `track_id_image`). They count up from
1; after 65535 they wrap to 1 again, skipping ids of tracks still alive, so an id is never
worn by two live tracks and comes back only after 65535 others were given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .detections import Instances

MAX_TRACK_ID = 65535  # uint16: the 16UC1 track-id image
UNMATCHED_COST = 1e6
SCALE_DECAY = 0.9  # per detection: how fast a track's size follows a shrinking mask
BOX_CHANGE = 0.2  # the most a mask box's side may change for its centre to measure motion


@dataclass(frozen=True)
class TrackerSettings:
    """How long tracks live and how far an association may reach.

    Frozen, so a node can swap in a new one between frames. The defaults were chosen on the
    demo's sequences (`demo.tracking_evaluation`) at every, every 3rd and every 5th frame.
    """

    max_age: float = 1.0  # seconds a confirmed track lives without a detection
    min_hits: int = 2  # detections before a new track is confirmed and gets an id
    min_iou: float = 0.1  # least mask IoU of a predicted track and a detection to match
    max_distance: float = 3.0  # centre distance / track size for what the IoU left unmatched
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement

    def __post_init__(self):
        if not self.max_age >= 0:
            raise ValueError(f'max_age must be >= 0 seconds, got {self.max_age}')
        if self.min_hits < 1:
            raise ValueError(f'min_hits must be >= 1, got {self.min_hits}')
        if not 0 < self.min_iou <= 1:
            raise ValueError(f'min_iou must be in (0, 1], got {self.min_iou}')
        if not self.max_distance >= 0:
            raise ValueError(f'max_distance must be >= 0, got {self.max_distance}')
        if not 0 < self.velocity_smoothing <= 1:
            raise ValueError(
                f'velocity_smoothing must be in (0, 1], got {self.velocity_smoothing}')


@dataclass
class _Detection:
    """One instance's mask cut to its pixel box."""

    number: int  # 1-based instance number in the label image
    class_id: int
    origin: np.ndarray  # (x, y) of the mask's top-left pixel
    mask: np.ndarray  # bool (h, w)
    area: int
    centre: np.ndarray  # (x, y) of the mask's box centre


@dataclass
class _Track:
    """What a track knows of its object: its last mask, where and when, and its velocity."""

    track_id: int  # 0 until confirmed
    class_id: int
    origin: np.ndarray
    mask: np.ndarray
    area: int
    centre: np.ndarray
    scale: float  # the object's size in pixels, slow to shrink while it is partly hidden
    stamp_s: float
    velocity: np.ndarray | None  # pixels per second; None until a second detection
    hits: int


class MaskTracker:
    """Per-camera multi-object tracker over instance masks (see the module's docstring)."""

    def __init__(self, settings: TrackerSettings | None = None):
        self.settings = settings or TrackerSettings()
        self._tracks: list[_Track] = []
        self._last_id = 0
        self._last_stamp: float | None = None

    def reset(self):
        """Forget every track; ids start again at 1."""
        self._tracks = []
        self._last_id = 0
        self._last_stamp = None

    @property
    def live_ids(self) -> list[int]:
        """The ids of the confirmed tracks alive now, seen in this frame or not."""
        return [track.track_id for track in self._tracks if track.track_id]

    def update(self, stamp_s: float, instances: Instances) -> np.ndarray:
        """Track ids (uint16) of one frame's instances, row k-1 for instance k; 0: unconfirmed.

        A stamp earlier than the previous frame's means time started again (a bag played
        from the start, a camera restarted): the tracker resets and starts anew.
        """
        stamp_s = float(stamp_s)
        if self._last_stamp is not None and stamp_s < self._last_stamp:
            self.reset()
        self._last_stamp = stamp_s
        self._tracks = [track for track in self._tracks
                        if stamp_s - track.stamp_s <= self.settings.max_age]
        detections = _detections(instances)
        ids = np.zeros(len(instances), np.uint16)
        matches, unmatched = self._associate(stamp_s, detections)
        for track, detection in matches:
            self._absorb(track, detection, stamp_s)
            ids[detection.number - 1] = track.track_id
        matched = {id(track) for track, _ in matches}
        self._tracks = [track for track in self._tracks if track.track_id or id(track) in matched]
        for detection in unmatched:
            track = _Track(0, detection.class_id, detection.origin, detection.mask,
                           detection.area, detection.centre, math.sqrt(detection.area),
                           stamp_s, None, 1)
            self._confirm_when_due(track)
            self._tracks.append(track)
            ids[detection.number - 1] = track.track_id
        return ids

    def _associate(self, stamp_s: float, detections: list[_Detection]
                   ) -> tuple[list[tuple[_Track, _Detection]], list[_Detection]]:
        """Pairs (track, detection) by predicted mask IoU, then by distance; leftovers."""
        settings = self.settings
        tracks = self._tracks
        if not tracks or not detections:
            return [], list(detections)
        elapsed = np.array([stamp_s - track.stamp_s for track in tracks])
        velocity = np.array([track.velocity if track.velocity is not None else (0.0, 0.0)
                             for track in tracks])
        shift = velocity * elapsed[:, None]
        track_origin = np.array([track.origin for track in tracks]) + np.rint(shift)
        track_size = np.array([track.mask.shape[::-1] for track in tracks])
        track_class = np.array([track.class_id for track in tracks])
        det_origin = np.array([d.origin for d in detections])
        det_size = np.array([d.mask.shape[::-1] for d in detections])
        det_class = np.array([d.class_id for d in detections])
        same_class = track_class[:, None] == det_class[None, :]
        low = np.maximum(track_origin[:, None, :], det_origin[None, :, :])
        high = np.minimum((track_origin + track_size)[:, None, :],
                          (det_origin + det_size)[None, :, :])
        overlapping = same_class & np.all(high > low, axis=2)
        iou = np.zeros(same_class.shape)
        for t, d in zip(*np.nonzero(overlapping), strict=True):
            iou[t, d] = _shifted_mask_iou(tracks[t], track_origin[t], detections[d])
        pairs = _assign(np.where(iou >= settings.min_iou, 1.0 - iou, UNMATCHED_COST))
        track_left = np.ones(len(tracks), bool)
        det_left = np.ones(len(detections), bool)
        for t, d in pairs:
            track_left[t] = det_left[d] = False
        if settings.max_distance > 0 and track_left.any() and det_left.any():
            predicted = np.array([track.centre for track in tracks]) + shift
            scale = np.array([track.scale for track in tracks])
            centres = np.array([d.centre for d in detections])
            distance = np.linalg.norm(predicted[:, None, :] - centres[None, :, :], axis=2)
            distance /= scale[:, None]
            allowed = (same_class & (distance <= settings.max_distance)
                       & track_left[:, None] & det_left[None, :])
            pairs += _assign(np.where(allowed, distance, UNMATCHED_COST))
        matched_detections = {d for _, d in pairs}
        return ([(tracks[t], detections[d]) for t, d in pairs],
                [d for i, d in enumerate(detections) if i not in matched_detections])

    def _absorb(self, track: _Track, detection: _Detection, stamp_s: float):
        """Move a track to its new detection and update its velocity."""
        elapsed = stamp_s - track.stamp_s
        if elapsed > 0 and _alike_boxes(track.mask.shape, detection.mask.shape):
            measured = (detection.centre - track.centre) / elapsed
            if track.velocity is None:
                track.velocity = measured
            else:
                weight = self.settings.velocity_smoothing
                track.velocity = weight * measured + (1.0 - weight) * track.velocity
        track.scale = max(math.sqrt(detection.area), SCALE_DECAY * track.scale)
        track.origin, track.mask, track.area = detection.origin, detection.mask, detection.area
        track.centre, track.stamp_s = detection.centre, stamp_s
        track.hits += 1
        self._confirm_when_due(track)

    def _confirm_when_due(self, track: _Track):
        if not track.track_id and track.hits >= self.settings.min_hits:
            track.track_id = self._next_id()

    def _next_id(self) -> int:
        """The next free id, wrapping after MAX_TRACK_ID past the ids still alive."""
        alive = {track.track_id for track in self._tracks}
        candidate = self._last_id
        for _ in range(MAX_TRACK_ID):
            candidate = candidate % MAX_TRACK_ID + 1
            if candidate not in alive:
                self._last_id = candidate
                return candidate
        raise RuntimeError(f'all {MAX_TRACK_ID} track ids are alive at once')


def track_id_image(label_image: np.ndarray, track_ids: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The 16UC1 image of track ids: pixel = track id of its instance, 0 = none or background."""
    lookup = np.zeros(256, np.uint16)
    track_ids = np.asarray(track_ids)
    if len(track_ids) > 255:
        raise ValueError(f'a uint8 label image holds at most 255 instances, got '
                         f'{len(track_ids)} ids')
    lookup[1:len(track_ids) + 1] = track_ids
    if out is None:
        return lookup[label_image]
    np.take(lookup, label_image, out=out)
    return out


def _detections(instances: Instances) -> list[_Detection]:
    """Each instance with pixels, its mask cut to its tight box (from the model's box)."""
    label_image = instances.label_image
    height, width = label_image.shape
    found = []
    for number in range(1, len(instances) + 1):
        if instances.areas[number - 1] <= 0:
            continue
        x0, y0, x1, y1 = instances.boxes[number - 1]
        left, top = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
        right, bottom = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
        crop = label_image[top:bottom, left:right] == number
        rows = np.flatnonzero(crop.any(axis=1))
        cols = np.flatnonzero(crop.any(axis=0))
        if not len(rows):
            continue
        crop = crop[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        origin = np.array([left + cols[0], top + rows[0]], np.float64)
        centre = origin + np.array(crop.shape[::-1]) / 2.0
        found.append(_Detection(number, int(instances.classes[number - 1]), origin, crop,
                                int(np.count_nonzero(crop)), centre))
    return found


def _alike_boxes(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Whether two mask boxes (h, w) are about one size, so their centres moved as the object.

    A box that grew or shrank (an object coming out of hiding or into the frame) moves its
    centre by half the change, which is no motion of the object.
    """
    return all(abs(a - b) <= BOX_CHANGE * max(a, b) for a, b in zip(before, after, strict=True))


def _shifted_mask_iou(track: _Track, origin: np.ndarray, detection: _Detection) -> float:
    """IoU of a track's mask placed at `origin` and a detection's mask, on their boxes' overlap."""
    tx, ty = int(origin[0]), int(origin[1])
    dx, dy = int(detection.origin[0]), int(detection.origin[1])
    th, tw = track.mask.shape
    dh, dw = detection.mask.shape
    left, top = max(tx, dx), max(ty, dy)
    right, bottom = min(tx + tw, dx + dw), min(ty + th, dy + dh)
    if right <= left or bottom <= top:
        return 0.0
    inside_track = track.mask[top - ty:bottom - ty, left - tx:right - tx]
    inside_detection = detection.mask[top - dy:bottom - dy, left - dx:right - dx]
    intersection = int(np.count_nonzero(inside_track & inside_detection))
    return intersection / float(track.area + detection.area - intersection)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one pairs (row, column), leaving out pairs at UNMATCHED_COST."""
    # Here, not at the top: SciPy costs a node ~50 MB and its start-up time, and a node with
    # tracking off imports this module for TrackerSettings.
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] < UNMATCHED_COST
    return list(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))
