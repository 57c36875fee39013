"""segmentation_node's RGB-D outputs over real DDS: 3D right, and every refusal counted."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tiny_models
from node_harness import NAMESPACE, Harness, find_by_stamp, scene_message
from rclpy.parameter import Parameter
from ros_helpers import Collector, wait_for
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from instance_segmentation_ros.core.depth3d import Intrinsics
from instance_segmentation_ros.demo.depth_scenes import truth_3d
from instance_segmentation_ros.ros import depth_msgs, detection_msgs

CAMERA = Intrinsics(300.0, 300.0, 159.5, 119.5)
DISTANCES = {1: 1.5, 3: 2.5}  # class id -> metres: the red disc and the green rectangle
WALL = 4.0


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(str(tmp_path_factory.mktemp('m') / 'model'))


def depth_of(truth: dict, scale: int = 1, noise_seed: int = 0) -> np.ndarray:
    """Depth in mm of the drawn scene, `scale` times its size, 1 mm noise and 1% holes."""
    depth = np.full(next(iter(truth.values())).shape, WALL)
    for class_id, mask in truth.items():
        depth[mask] = DISTANCES[class_id]
    depth = np.kron(depth, np.ones((scale, scale)))
    rng = np.random.default_rng(noise_seed)
    depth += rng.normal(0.0, 0.001, depth.shape)
    depth[rng.uniform(size=depth.shape) < 0.01] = 0.0
    return np.rint(depth * 1000).astype(np.uint16)


def depth_message(colour: Image, depth: np.ndarray, encoding='16UC1', frame_id=None,
                  stamp_offset_ns=0) -> Image:
    message = Image(header=copy.deepcopy(colour.header))
    message.header.frame_id = colour.header.frame_id if frame_id is None else frame_id
    total = colour.header.stamp.nanosec + stamp_offset_ns
    message.header.stamp.sec = colour.header.stamp.sec + total // 1_000_000_000
    message.header.stamp.nanosec = total % 1_000_000_000
    if encoding == '32FC1':
        values = np.where(depth > 0, depth / 1000.0, np.nan).astype(np.float32)
    else:
        values = depth
    message.height, message.width = values.shape
    message.encoding, message.step = encoding, values.shape[1] * values.itemsize
    message.data = values.tobytes()
    return message


def camera_info(width=320, height=240, scale=1, calibrated=True) -> CameraInfo:
    info = CameraInfo(width=width * scale, height=height * scale)
    if calibrated:
        k = CAMERA.sampled(1, 0)
        info.k = [k.fx * scale, 0.0, (k.cx + 0.5) * scale - 0.5, 0.0, k.fy * scale,
                  (k.cy + 0.5) * scale - 0.5, 0.0, 0.0, 1.0]
    return info


class RgbdClient:
    """The harness plus publishers of depth and camera_info and collectors of the 3D outputs."""

    def __init__(self, harness: Harness, namespace: str = NAMESPACE):
        self.harness = harness
        client, prefix = harness.client, namespace + '/'
        self.depth_pub = client.create_publisher(Image, prefix + 'depth/image', 10)
        self.info_pub = client.create_publisher(CameraInfo, prefix + 'depth/camera_info', 10)
        self.points = Collector()
        outputs = [client.create_subscription(PointCloud2, prefix + 'points', self.points, 10)]
        self.detections_3d = self.markers = None
        if detection_msgs.AVAILABLE:
            self.detections_3d = Collector()
            outputs.append(client.create_subscription(
                detection_msgs.Detection3DArray, prefix + 'detections_3d', self.detections_3d,
                10))
        if depth_msgs.MARKERS_AVAILABLE:
            self.markers = Collector()
            outputs.append(client.create_subscription(
                depth_msgs.MarkerArray, prefix + 'markers', self.markers, 10))
        assert wait_for(lambda: self.depth_pub.get_subscription_count() > 0
                        and self.info_pub.get_subscription_count() > 0
                        and all(s.get_publisher_count() > 0 for s in outputs))

    def segment(self, colour: Image, depth: Image | None, info: CameraInfo | None) -> dict:
        if info is not None:
            info.header = depth.header if depth is not None else colour.header
            self.info_pub.publish(info)
        if depth is not None:
            self.depth_pub.publish(depth)
        wait_for(lambda: False, timeout=0.2)  # the depth is in before the colour frame
        return self.harness.segment(colour)

    def refusals(self) -> dict[str, int]:
        for array in reversed(list(self.harness.diagnostics.messages)):
            values = {kv.key: kv.value for kv in array.status[0].values}
            return {key[len('depth_refused_'):]: int(value) for key, value in values.items()
                    if key.startswith('depth_refused_')}
        return {}


@pytest.fixture(scope='module')
def rgbd(model_path):
    harness = Harness(model_path, extra_args=['-p', 'depth.enabled:=true'])
    yield RgbdClient(harness)
    harness.close()


def check_3d(data: dict, truth: dict):
    assert len(data['detections']) == 2
    for detection in data['detections']:
        centroid, low, high = truth_3d(truth[detection['category_id']],
                                       DISTANCES[detection['category_id']], CAMERA)
        assert np.abs(np.array(detection['centroid']) - centroid).max() <= 0.01, detection
        assert np.abs(np.array(detection['box_3d']['min']) - low).max() <= 0.02
        assert np.abs(np.array(detection['box_3d']['max']) - high).max() <= 0.02
        assert detection['median_depth'] == pytest.approx(
            DISTANCES[detection['category_id']], abs=0.002)
        assert detection['depth_points'] >= 0.9 * truth[detection['category_id']].sum()


@pytest.mark.parametrize('encoding, scale', [('16UC1', 1), ('32FC1', 1), ('16UC1', 2)])
def test_an_rgbd_frame_gives_each_instance_in_3d(rgbd, encoding, scale):
    stamp = {('16UC1', 1): 200, ('32FC1', 1): 201, ('16UC1', 2): 202}[(encoding, scale)]
    colour, _, truth = scene_message(stamp_sec=stamp)
    depth = depth_message(colour, depth_of(truth, scale), encoding, stamp_offset_ns=5_000_000)
    data = rgbd.segment(colour, depth, camera_info(scale=scale))
    check_3d(data, truth)


def test_detections_3d_markers_and_points_carry_the_colour_header_and_agree(rgbd):
    colour, _, truth = scene_message(stamp_sec=210)
    depth = depth_message(colour, depth_of(truth), stamp_offset_ns=-3_000_000)
    data = rgbd.segment(colour, depth, camera_info())
    check_3d(data, truth)
    assert wait_for(lambda: find_by_stamp(rgbd.points, 210) is not None)
    cloud = find_by_stamp(rgbd.points, 210)
    assert [field.name for field in cloud.fields] == ['x', 'y', 'z', 'id']
    points = np.frombuffer(bytes(cloud.data), depth_msgs.POINT_DTYPE)
    assert len(points) == sum(d['depth_points'] for d in data['detections'])
    for detection in data['detections']:
        own = points[points['id'] == detection['id']]
        assert np.mean(own['z']) == pytest.approx(detection['centroid'][2], abs=1e-3)
    outputs = [cloud]
    if rgbd.detections_3d is not None:
        assert wait_for(lambda: find_by_stamp(rgbd.detections_3d, 210) is not None)
        array = find_by_stamp(rgbd.detections_3d, 210)
        outputs.append(array)
        assert [d.id for d in array.detections] == ['1', '2']
        for detection, entry in zip(array.detections, data['detections'], strict=True):
            hypothesis = detection.results[0]
            assert hypothesis.hypothesis.class_id == entry['category_name']
            assert hypothesis.hypothesis.score == pytest.approx(entry['score'], abs=1e-4)
            position = hypothesis.pose.pose.position
            assert [position.x, position.y, position.z] == pytest.approx(entry['centroid'],
                                                                         abs=1e-3)
            low, high = np.array(entry['box_3d']['min']), np.array(entry['box_3d']['max'])
            size = detection.bbox.size
            assert [size.x, size.y, size.z] == pytest.approx(high - low, abs=1e-3)
    if rgbd.markers is not None:
        assert wait_for(lambda: any(m.markers[-1].header.stamp.sec == 210
                                    for m in rgbd.markers.messages if len(m.markers) > 1))
        markers = next(m for m in rgbd.markers.messages
                       if len(m.markers) > 1 and m.markers[-1].header.stamp.sec == 210)
        boxes = [m for m in markers.markers if m.ns == 'boxes']
        labels = [m for m in markers.markers if m.ns == 'labels']
        assert markers.markers[0].action == 3  # DELETEALL first
        assert [m.id for m in boxes] == [1, 2] and len(labels) == 2
        assert labels[0].text.startswith(data['detections'][0]['category_name'])
        for box, entry in zip(boxes, data['detections'], strict=True):
            centre = (np.array(entry['box_3d']['min']) + entry['box_3d']['max']) / 2
            assert [box.pose.position.x, box.pose.position.y,
                    box.pose.position.z] == pytest.approx(centre, abs=1e-3)
        outputs += markers.markers
    for output in outputs:
        assert output.header.frame_id == 'test_camera'
        assert (output.header.stamp.sec, output.header.stamp.nanosec) == (210, 1234)


def unusable(case: str, colour: Image, values: np.ndarray):
    """(depth, camera_info, refusal kind) that go wrong as `case` says; may change `colour`."""
    depth, info = depth_message(colour, values), camera_info()
    if case == 'size':  # 300x200 beside 320x240: not an integer multiple
        depth, info = depth_message(colour, values[:200, :300].copy()), camera_info(300, 200)
    elif case == 'camera_info_size':  # the calibration of another resolution
        info = camera_info(640, 480)
    elif case == 'frame_id':
        depth = depth_message(colour, values, frame_id='other_camera')
    elif case == 'zero_stamp':
        colour.header.stamp.sec = colour.header.stamp.nanosec = 0
        depth = depth_message(colour, values)
    elif case == 'camera_info':  # an uncalibrated camera's all-zero matrices
        info = camera_info(calibrated=False)
    elif case == 'encoding':
        depth.encoding = 'mono16'
    elif case == 'unpaired':  # half a second off
        depth = depth_message(colour, values, stamp_offset_ns=500_000_000)
    return depth, info, 'size' if case == 'camera_info_size' else case


CASES = ['size', 'camera_info_size', 'frame_id', 'zero_stamp', 'camera_info', 'encoding',
         'unpaired']


@pytest.mark.parametrize('case', CASES)
def test_each_unusable_depth_is_refused_counted_and_the_2d_goes_on(rgbd, case):
    colour, _, truth = scene_message(stamp_sec=300 + CASES.index(case))
    depth, info, kind = unusable(case, colour, depth_of(truth))
    before = rgbd.refusals().get(kind, 0)
    data = rgbd.segment(colour, depth, info)
    assert len(data['detections']) == 2  # the 2D outputs go on
    assert all('centroid' not in detection for detection in data['detections'])
    assert wait_for(lambda: rgbd.refusals().get(kind, 0) > before, timeout=5), rgbd.refusals()


def test_no_camera_info_at_all_is_refused(model_path):
    harness = Harness(model_path, extra_args=['-p', 'depth.enabled:=true'],
                      namespace='/no_camera_info')
    try:
        client = RgbdClient(harness, '/no_camera_info')
        colour, _, truth = scene_message(stamp_sec=500)
        data = client.segment(colour, depth_message(colour, depth_of(truth)), None)
        assert all('centroid' not in detection for detection in data['detections'])
        assert wait_for(lambda: client.refusals().get('camera_info', 0) >= 1, timeout=5)
    finally:
        harness.close()


def test_allow_frame_mismatch_pairs_depth_of_another_frame_id(rgbd):
    assert all(r.successful for r in rgbd.harness.set(
        Parameter('depth.allow_frame_mismatch', value=True)))
    try:
        colour, _, truth = scene_message(stamp_sec=400)
        depth = depth_message(colour, depth_of(truth), frame_id='depth_optical_frame')
        check_3d(rgbd.segment(colour, depth, camera_info()), truth)
    finally:
        rgbd.harness.set(Parameter('depth.allow_frame_mismatch', value=False))
