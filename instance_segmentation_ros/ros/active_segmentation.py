"""What segmentation_node holds while it is active: its cameras, the pipeline and the inputs.

The node's activate phase makes an `ActiveSegmentation` and deactivate closes it (the lifecycle
node's transitions; the plain node activates once). The input subscriptions only drop each
frame into the pipeline's mailbox (`engine.mailboxes.mailbox_for`); the model stage runs
`_infer` and the output stage hands the result to the frame's camera to publish. /diagnostics,
one status per camera, is published from here once a second.
"""

from __future__ import annotations

import functools
from operator import itemgetter

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from ..engine.diagnostics import segmentation_status
from ..engine.mailboxes import mailbox_for
from ..model.segmenter import Segmenter
from . import depth_msgs, detection_msgs
from .adaptive_input import TRANSPORTS, AdaptiveInput
from .segmentation_settings import RunSettings, StartSettings
from .served_camera import WARNING_INTERVAL_S, Detected, ServedCamera

DIAGNOSTICS_PERIOD_S = 1.0
CAMERA_OF_FRAME = itemgetter(0)  # the pipeline's frames are (ServedCamera, message)


class ActiveSegmentation:
    """The cameras' topics, the pipeline, the input subscriptions and /diagnostics of `node`.

    `engine` makes the pipeline from the model call and the publishing (the benchmarks pass
    clocked or naive variants); `latest_depth` is the image subscriptions' queue depth in
    latest mode. `apply` hands new run-time settings on; `close` stops the pipeline and
    destroys what was made here.
    """

    def __init__(self, node: Node, start: StartSettings, settings: RunSettings,
                 segmenter: Segmenter, engine, latest_depth: int):
        self._node, self._start, self._segmenter = node, start, segmenter
        self._made_before = (set(node.publishers), set(node.subscriptions), set(node.timers))
        input_type, input_suffix, self._to_bgr = TRANSPORTS[start.input_transport]
        self.cameras = [ServedCamera(node, name, input_suffix, segmenter, settings,
                                     start.depth_history, start.tracking)
                        for name in start.cameras]
        stamp = node.get_clock().now().to_msg()
        for camera in self.cameras:
            camera.publish_label_info(stamp)
        self._diagnostics = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.pipeline = engine(self._infer, self._publish, self._failed, settings.policy,
                               mailbox=mailbox_for(start.processing_mode, len(self.cameras),
                                                   start.queue_size, CAMERA_OF_FRAME),
                               source=CAMERA_OF_FRAME if start.cameras_named else None)
        self.pipeline.start()
        node.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self._every_frame = start.processing_mode == 'every_frame'
        self._input = AdaptiveInput(node, start.input_reliability,
                                    start.queue_size if self._every_frame else latest_depth,
                                    self._every_frame, start.input_transport)
        for camera in self.cameras:
            self._input.add(camera.image_topic, input_type,
                            functools.partial(self._receive, camera), camera.image_name,
                            functools.partial(self._in_flight, camera))
            if camera.depth is not None:
                self._input.add(camera.topic('depth/image'), Image, camera.receive_depth)
                self._input.add(camera.topic('depth/camera_info'), CameraInfo,
                                camera.depth.add_camera_info)
        self._input.start()
        self._say_what_flows()

    def _say_what_flows(self):
        """One line: the image topics, how frames are taken, where the outputs go, what is off."""
        outputs = ', '.join(camera.topic('masks').rpartition('/')[0] or '/'
                            for camera in self.cameras)
        self._node.get_logger().info(
            f'segmenting {", ".join(camera.image_topic for camera in self.cameras)} '
            f'(input_reliability {self._start.input_reliability}, '
            f'{self._start.processing_mode}'
            + (', cameras served in turn' if len(self.cameras) > 1 and not self._every_frame
               else '')
            + f'); outputs under {outputs}; '
            'vision_msgs ' + ('available' if detection_msgs.AVAILABLE
                              else 'not installed: detections and label_info off')
            + ('' if self._start.depth_history is None else
               '; depth on, visualization_msgs ' + (
                   'available' if depth_msgs.MARKERS_AVAILABLE
                   else 'not installed (pip install ros-jazzy-visualization-msgs): markers off')))

    def apply(self, settings: RunSettings):
        """Use new run-time settings from the next frame on."""
        stamp = self._node.get_clock().now().to_msg()
        for camera in self.cameras:
            camera.apply(settings, stamp)
        self.pipeline.policy = settings.policy

    def close(self):
        """Stop the pipeline, then destroy the publishers, subscriptions and timers made here."""
        self.pipeline.close()
        publishers, subscriptions, timers = self._made_before
        for publisher in set(self._node.publishers) - publishers:
            self._node.destroy_publisher(publisher)
        for subscription in set(self._node.subscriptions) - subscriptions:
            self._node.destroy_subscription(subscription)
        for timer in set(self._node.timers) - timers:
            self._node.destroy_timer(timer)

    def _receive(self, camera: ServedCamera, message):
        """Hand a frame to the pipeline; in every_frame mode, say when a full queue drops one."""
        if self.pipeline.put((camera, message)) and self._every_frame:
            self._node.get_logger().warning(
                f'every_frame: the queue of {self._start.queue_size} frames is full, the oldest '
                f'was dropped ({self.pipeline.figures.dropped} so far); raise queue_size or '
                'play the bag slower', throttle_duration_sec=WARNING_INTERVAL_S)

    def _figures_of(self, camera: ServedCamera):
        """The pipeline's figures of `camera`'s frames (all of them with one unnamed camera)."""
        if self._start.cameras_named:
            return self.pipeline.figures_of(camera)
        return self.pipeline.figures

    def _in_flight(self, camera: ServedCamera) -> bool:
        """Whether a frame of `camera` waits for the model or is being processed."""
        return self._figures_of(camera).in_flight > 0

    # Frames (called by the pipeline's stage threads) ----------------------------------

    def _infer(self, frame) -> Detected:
        _, message = frame
        bgr = self._to_bgr(message)
        detections, inference_s = self._segmenter.detect(bgr)
        return Detected(message.header, bgr, detections, inference_s)

    def _publish(self, frame, detected: Detected):
        camera, _ = frame
        camera.publish(detected)

    def _failed(self, frame, error: Exception):
        if frame is None:  # the pipeline's own, not a frame's
            self._node.get_logger().error(f'pipeline error: {error!r}',
                                          throttle_duration_sec=WARNING_INTERVAL_S)
            return
        camera, _ = frame
        camera.frame_failed(error, shutting_down=not rclpy.ok(context=self._node.context))

    def _publish_diagnostics(self):
        """One status per camera: its rates, latencies, drops, faults and image publishers."""
        named, model = self._start.cameras_named, self._segmenter.model
        figures = [self._figures_of(camera) for camera in self.cameras]
        periods = [each.take_period() for each in figures]
        model_calls = sum(period.processed for period in periods)
        message = DiagnosticArray()
        for camera, camera_figures, period in zip(self.cameras, figures, periods, strict=True):
            status = segmentation_status(period, camera_figures, camera.faults.take_period(),
                                         model.name, model.format,
                                         self._input.presence[camera.image_topic])
            status.values['image_topic'] = camera.image_topic
            if named:
                status.values['camera'] = camera.name
                status.values['model_share'] = f'{period.processed / max(model_calls, 1):.3f}'
            message.status.append(DiagnosticStatus(
                name=f'{self._node.get_name()}: segmentation'
                     + (f' {camera.name}' if named else ''),
                hardware_id=self._node.get_fully_qualified_name(), level=bytes([status.level]),
                message=status.message,
                values=[KeyValue(key=key, value=value) for key, value in status.values.items()]))
        message.header.stamp = self._node.get_clock().now().to_msg()
        self._diagnostics.publish(message)
