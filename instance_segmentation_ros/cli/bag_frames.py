"""The bag command's frames: what is segmented, what comes back, and the in-process engine.

`segment_frame` is the one place a frame's results are made, in this process (`LocalFrames`)
or on a Ray actor (`ray_runner`), so that both write the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrameJob:
    """One decoded camera frame to segment, with what its results carry."""

    bgr: object  # np.ndarray
    sec: int
    nanosec: int
    frame_id: str
    image_id: int


@dataclass(frozen=True)
class FrameResult:
    """A frame's results, as written into OUT (and --json)."""

    label_image: object  # np.ndarray
    detections_json: str
    overlay: object  # np.ndarray, or None without --overlay
    coco: list
    instances: object  # core.detections.Instances: what a frame's 3D is measured for
    inference_s: float


def segment_frame(segmenter, settings, job: FrameJob, overlay_alpha: float,
                  overlay: bool) -> FrameResult:
    """Segment one frame: the same code wherever it runs, so that results are the same."""
    segmentation = segmenter.segment(job.bgr, settings)
    return FrameResult(
        segmentation.instances.label_image,
        segmenter.frame_json(segmentation, job.sec, job.nanosec, job.frame_id),
        segmenter.overlay(job.bgr, segmentation, overlay_alpha) if overlay else None,
        segmenter.coco(segmentation, job.image_id), segmentation.instances,
        segmentation.inference_s)


class LocalFrames:
    """Frames segmented in this process, one at a time, as they are submitted."""

    window = 1  # frames in flight

    def __init__(self, segmenter, settings, overlay_alpha: float, overlay: bool):
        self.segmenter = segmenter  # what the COCO files name: its label map and model
        self._settings, self._alpha, self._overlay = settings, overlay_alpha, overlay

    def submit(self, job: FrameJob) -> FrameResult:
        """The frame's results (the handle `result` takes)."""
        return segment_frame(self.segmenter, self._settings, job, self._alpha, self._overlay)

    def ready(self, handle) -> bool:
        """Whether `result(handle)` would return at once."""
        return True

    def result(self, handle) -> FrameResult:
        """The results of a submitted frame."""
        return handle

    def close(self):
        """Nothing to let go of."""
