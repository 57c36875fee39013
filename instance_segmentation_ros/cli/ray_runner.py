"""The bag command's frames segmented on a Ray cluster: a pool of actors, one loaded model each.

The bag is read and written by this process (the driver), as in a local run; only the
decoded frames travel, to the actors and back, and `bag_frames.segment_frame` runs there, so
that the results are those of a local run. A frame goes to the actor with the fewest frames
in hand; results are taken in input order. An actor whose worker process dies is restarted by Ray
(``max_restarts``) and its unfinished frames are run again (``max_task_retries``): each
frame's result is taken once, by its place in the input, so none is lost and none written
twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.labels import LabelMap
from .bag_frames import FrameJob, FrameResult, segment_frame
from .common import CliError

RAY_MISSING = ("--ray needs Ray, which is not installed: pip install "
               "'instance_segmentation_ros[ray]' (or pip install ray)")
RESTARTS = 3  # per actor: a worker killed now and then is survived, a model that cannot load
# on a host is not retried for ever


def import_ray():
    """The ray module; CliError saying how to install it where it is missing."""
    try:
        import ray
    except ImportError:
        raise CliError(RAY_MISSING) from None
    return ray


class FrameSegmenter:
    """A Ray actor's state: one loaded model, and the settings every frame of the run uses."""

    def __init__(self, model, device: str, settings, overlay_alpha: float, overlay: bool,
                 threads: int):
        from ..model.segmenter import load_segmenter

        self.segmenter = load_segmenter(model, device=device, intra_op_threads=threads)
        self.segmenter.model.warm_up(240, 320)
        self.settings, self.alpha, self.overlay = settings, overlay_alpha, overlay

    def pid(self) -> int:
        """The worker process's id (tests kill it to show that no frame is lost)."""
        return os.getpid()

    def model_name(self) -> str:
        """The loaded model's name, as the COCO files give it."""
        return self.segmenter.model.name

    def segment(self, job: FrameJob) -> FrameResult:
        """One frame's results."""
        return segment_frame(self.segmenter, self.settings, job, self.alpha, self.overlay)


@dataclass(frozen=True)
class NamedModel:
    """A model by name: what the COCO files say of it."""

    name: str


@dataclass(frozen=True)
class ModelLabels:
    """The label map and model that the COCO files name (the model itself is on the actors)."""

    label_map: LabelMap
    model: NamedModel


class RayFrames:
    """Frames segmented by a pool of Ray actors, a few in flight per actor."""

    def __init__(self, args, options):
        ray = self.ray = import_ray()
        address = args.ray or None  # None: RAY_ADDRESS, a cluster on this machine, or a new one
        try:
            ray.init(address=address, log_to_driver=args.verbose,
                     configure_logging=args.verbose)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as error:
            raise CliError(f'--ray: cannot reach a Ray cluster at {address or "auto"}: '
                           f'{_reason(error)}') from None
        try:
            self.actors = self._start(args, options)
        except BaseException:
            ray.shutdown()
            raise
        self._load = {id(actor): 0 for actor in self.actors}
        self.window = 2 * len(self.actors)  # one frame running and one waiting per actor

    def _start(self, args, options):
        """The actors, each with its model loaded (CliError when they cannot load it)."""
        ray = self.ray
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get('GPU', 0)), int(resources.get('CPU', 0))
        count = args.ray_actors or gpus or max(1, cpus // args.ray_actor_cpus)
        actor_class = ray.remote(
            num_cpus=args.ray_actor_cpus, num_gpus=1 if gpus else 0,
            max_restarts=RESTARTS, max_task_retries=RESTARTS)(FrameSegmenter)
        threads = 0 if gpus else args.ray_actor_cpus
        actors = [actor_class.remote(options.model, options.tf_device, options.settings,
                                     args.overlay_alpha, args.overlay, threads)
                  for _ in range(count)]
        try:
            names = ray.get([actor.model_name.remote() for actor in actors])
        except ray.exceptions.RayError as error:
            raise CliError(f'--ray: the actors could not load the model: '
                           f'{_reason(error)}') from None
        self.segmenter = ModelLabels(options.model.label_map, NamedModel(names[0]))
        where = f'{gpus} GPU' if gpus else f'{args.ray_actor_cpus} CPU'
        print(f'ray: {count} actor{"" if count == 1 else "s"} ({where} each) on a cluster of '
              f'{cpus} CPUs and {gpus} GPUs', flush=True)
        return actors

    def submit(self, job: FrameJob):
        """Hand a frame to the actor with the fewest in hand; the handle `result` takes."""
        actor = min(self.actors, key=lambda a: self._load[id(a)])
        self._load[id(actor)] += 1
        return actor, actor.segment.remote(job)

    def ready(self, handle) -> bool:
        """Whether the frame's results are there."""
        ready, _ = self.ray.wait([handle[1]], timeout=0)
        return bool(ready)

    def result(self, handle) -> FrameResult:
        """The frame's results (waiting for them); CliError when the cluster cannot give them."""
        actor, reference = handle
        try:
            return self.ray.get(reference)
        except self.ray.exceptions.RayError as error:
            raise CliError(f'--ray: a frame could not be segmented: {_reason(error)}') from None
        finally:
            self._load[id(actor)] -= 1

    def halt(self):
        """Nothing: a frame handed to the cluster is segmented, and written, to the end."""

    def cancel(self, handle) -> bool:
        """False: the frame is segmented (see `halt`)."""
        return False

    def close(self):
        """Let the actors go and disconnect (a cluster started here stops)."""
        self.ray.shutdown()


def _reason(error: BaseException) -> str:
    """The last line of a Ray error: the exception that the remote side raised."""
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
