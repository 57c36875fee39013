"""segmentation_node's parameters: what it declares (name -> default, descriptor).

What the node makes of their values is in `segmentation_settings`.
"""

from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.parameter import Parameter

from ..core.postprocess import MAX_INSTANCES
from ..engine.mailboxes import PROCESSING_MODES
from .adaptive_input import RELIABILITIES, TRANSPORTS
from .parameters import descriptor

CHOICES = {'input_reliability': ('auto', *RELIABILITIES), 'input_transport': tuple(TRANSPORTS),
           'processing_mode': PROCESSING_MODES}
CLASSES_EXAMPLE = 'a list of class names or ids, e.g. "[person, 3]"; "[]" keeps every class'


def classes_descriptor(description: str) -> ParameterDescriptor:
    """`classes` is dynamically typed: `ros2 param set` sends "[]" as a bool array."""
    result = descriptor(description)
    result.dynamic_typing = True
    return result


UNIT = (0.0, 1.0)
PARAMETERS = {
    'model_path': ('', descriptor(
        'SavedModel folder, frozen graph .pb, zoo model folder or downloaded zoo model name',
        read_only=True)),
    'label_map_path': ('', descriptor(
        '.pbtxt StringIntLabelMap or text file (one name per line); empty = the labels.txt, '
        'label_map.pbtxt or labels.pbtxt beside the model, else COCO',
        read_only=True)),
    'score_threshold': (0.5, descriptor('Minimum detection score kept', floating=UNIT)),
    'mask_threshold': (0.5, descriptor('Mask probability above which a pixel is in',
                                       floating=UNIT)),
    'classes': ([], classes_descriptor(
        'Class names or ids to keep, e.g. [person, 3] (ros2 param set: "[1, square]"); '
        '[] = all')),
    'max_detections': (100, descriptor(
        'Most instances kept per frame (the mask image is mono8)',
        integer=(1, MAX_INSTANCES))),
    'overlay_alpha': (0.5, descriptor('Opacity of the mask colours in the overlay',
                                      floating=UNIT)),
    'frame_wait_fraction': (0.1, descriptor(
        'Wait up to this fraction of the model time for the next camera frame when it is due '
        'sooner than the waiting frame is old, rather than run the model on the older one '
        '(0 = never wait)', floating=UNIT)),
    'output_wait_fraction': (0.03, descriptor(
        "Publish a frame's outputs before starting the next model call when they take at most "
        'this fraction of the model time (where both share CPU cores, the outputs come out '
        'sooner for at most this fraction of throughput); 0 = always overlap them',
        floating=UNIT)),
    # Not read_only only because a read-only string array cannot default to []: a change after
    # start-up is refused (_validate_parameters).
    'cameras': (Parameter.Type.STRING_ARRAY, descriptor(
        'Camera namespaces served by the one model, each with its own topics (c/image in; '
        'c/masks, c/overlay, ... out), newest frame of each in turn; empty = the single '
        'camera on image. Read at start-up')),
    'input_reliability': ('auto', descriptor(
        'QoS reliability of the image subscription: auto (reliable when every publisher of '
        'the topic is, else best effort), best_effort or reliable', read_only=True)),
    'input_transport': ('raw', descriptor(
        'raw: sensor_msgs/Image on image; compressed: sensor_msgs/CompressedImage (JPEG or '
        'PNG) on image/compressed, as image_transport names it', read_only=True)),
    'processing_mode': ('latest', descriptor(
        'latest: the newest frame, dropping older ones (live cameras); every_frame: each frame '
        'in arrival order, up to queue_size pending (bags)', read_only=True)),
    'queue_size': (30, descriptor(
        'every_frame: frames held while the model is busy; when full the oldest is dropped '
        'and counted', read_only=True, integer=(1, 10000))),
    'jpeg_quality': (95, descriptor('JPEG quality of overlay/compressed',
                                    integer=(1, 100))),
    'tf_device': ('auto', descriptor('TensorFlow device: auto, cpu or gpu:N', read_only=True)),
    'device': ('', descriptor(
        'Deprecated old name of tf_device, removed in the next release; when set, it is the '
        'TensorFlow device', read_only=True)),
    'precision': ('fp32', descriptor(
        'Arithmetic on a CPU: auto (bf16 where the CPU has it natively and it is faster for the '
        'model at warm-up), fp32, or bf16 (bfloat16 where native, else fp32); GPUs keep their '
        'own', read_only=True)),
    'intra_op_threads': (0, descriptor(
        'TensorFlow intra-op threads (0 = TensorFlow default)', read_only=True,
        integer=(0, 256))),
    'inter_op_threads': (0, descriptor(
        'TensorFlow inter-op threads (0 = TensorFlow default)', read_only=True,
        integer=(0, 256))),
    'warmup': (True, descriptor('Run the model once at start-up so the first frame is fast',
                                read_only=True)),
    'warmup_width': (640, descriptor(
        'Width of the warm-up image (the camera width gives the fastest first frame)',
        read_only=True, integer=(1, 16384))),
    'warmup_height': (480, descriptor(
        'Height of the warm-up image (the camera height gives the fastest first frame)',
        read_only=True, integer=(1, 16384))),
    'depth.enabled': (False, descriptor(
        'Also subscribe depth/image (16UC1 mm or 32FC1 m, aligned to the colour image) and '
        'depth/camera_info, and publish each instance in 3D', read_only=True)),
    'depth.sync_tolerance': (0.02, descriptor(
        'Seconds between the stamps of a colour frame and the depth frame paired with it '
        '(the nearest)', floating=(0.0, 1.0))),
    'depth.allow_frame_mismatch': (False, descriptor(
        'Pair depth and colour of different frame_ids (refused by default: aligned depth '
        'carries the colour frame_id)')),
    'depth.percentile': (5.0, descriptor(
        "Percent of an instance's interior depths ignored at each end of its depth band "
        '(stray and flying pixels)', floating=(0.0, 25.0))),
    'depth.max_gap': (0.1, descriptor(
        "Metres: the largest jump in depth within one object's surface; depths beyond a jump "
        'are background a mask bleeds over', floating=(0.001, 100.0))),
    'depth.min_points': (10, descriptor(
        'Fewest depth points that give an instance a 3D position', integer=(1, 1000000))),
    'depth.history': (30, descriptor(
        'Depth frames kept for pairing: more than arrive while a colour frame waits for its '
        'outputs', read_only=True, integer=(1, 1000))),
    'tracking.enabled': (False, descriptor(
        'Track instances over frames (one tracker per camera): track_id in detections_json, '
        'the track id as Detection2D.id, #id in the overlay, the track_masks topic (16UC1, '
        'pixel = track id). Off: no tracking work and no track fields', read_only=True)),
    'tracking.max_age': (1.0, descriptor(
        'Seconds (by the frame stamps) a confirmed track lives without a detection before its '
        'id is retired', floating=(0.0, 60.0))),
    'tracking.min_hits': (2, descriptor(
        'Detections before a new track is confirmed and gets an id (unconfirmed: track_id '
        'null, Detection2D.id empty, 0 in track_masks)', integer=(1, 100))),
    'tracking.min_iou': (0.1, descriptor(
        "Least mask IoU of a track's predicted mask and a detection for them to match",
        floating=(0.01, 1.0))),
}
