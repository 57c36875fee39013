"""The bag command's frames: what is segmented, what comes back, and the in-process engine.

`segment_frame` is the one place a frame's results are made, in this process (`LocalFrames`)
or on a Ray actor (`ray_runner`), so that both write the same bytes.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
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
    """Frames segmented in this process by one worker thread, in the order submitted.

    While the worker runs the model on one frame, the bag loop reads and decodes the next and
    writes the results of the one before (TensorFlow and OpenCV let go of the GIL), so reading
    and writing cost no model time. One worker keeps the model calls in input order.
    """

    window = 1  # frames left running while the loop reads on

    def __init__(self, segmenter, settings, overlay_alpha: float, overlay: bool):
        self.segmenter = segmenter  # what the COCO files name: its label map and model
        self._settings, self._alpha, self._overlay = settings, overlay_alpha, overlay
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix='segment')
        self._halted = False

    def submit(self, job: FrameJob) -> Future:
        """Start segmenting the frame; the handle that `ready` and `result` take."""
        return self._worker.submit(self._segment, job)

    def _segment(self, job: FrameJob) -> FrameResult | None:
        if self._halted:  # Ctrl+C came before this frame's turn
            return None
        return segment_frame(self.segmenter, self._settings, job, self._alpha, self._overlay)

    def halt(self):
        """Start no frame from now on (the first Ctrl+C; safe in a signal handler)."""
        self._halted = True

    def ready(self, handle: Future) -> bool:
        """Whether `result(handle)` would return at once."""
        return handle.done()

    def result(self, handle: Future) -> FrameResult:
        """The results of a submitted frame (its error, raised here, if it failed)."""
        return handle.result()

    def cancel(self, handle: Future) -> bool:
        """After `halt`: True for a frame that was not segmented, False for one that was."""
        return handle.cancel() or handle.result() is None

    def close(self):
        """Let the frame being segmented finish; drop the ones not started."""
        self._worker.shutdown(wait=True, cancel_futures=True)
