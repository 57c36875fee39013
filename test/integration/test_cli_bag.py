"""The bag command end to end: bags written here with rosbags, segmented, and read back.

Scenes are the tiny test model's (`tiny_models.draw_scene`), whose detections are known, so
that every frame has instances. The outputs are compared with what `Segmenter` computes in this
process for the same images.
"""

import json
import sqlite3
import subprocess

import cv2
import numpy as np
import pytest
import tiny_models
from cli_run import SCRIPT, interrupt_at, read_bag, run_cli
from pycocotools.coco import COCO
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from instance_segmentation_ros.cli.bag_vision import definitions
from instance_segmentation_ros.core.compressed import encode_jpeg
from instance_segmentation_ros.core.detections import PostprocessSettings
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.model.segmenter import Segmenter
from instance_segmentation_ros.model.source import locate_model
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 100_000_000
CAMERA = '/cam/image_raw'
OUTPUTS = {'/cam/segmentation/masks': 'sensor_msgs/msg/Image',
           '/cam/segmentation/masks/compressed': 'sensor_msgs/msg/CompressedImage',
           '/cam/segmentation/detections_json': 'std_msgs/msg/String'}
OVERLAYS = {'/cam/segmentation/overlay': 'sensor_msgs/msg/Image',
            '/cam/segmentation/overlay/compressed': 'sensor_msgs/msg/CompressedImage'}
VISION_MSGS = definitions() is not None  # its .msg files in the ament index
VISION = {'/cam/segmentation/detections': 'vision_msgs/msg/Detection2DArray',
          '/cam/segmentation/label_info': 'vision_msgs/msg/LabelInfo'} if VISION_MSGS else {}


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(tmp_path_factory.mktemp('bag_model') / 'tf2')


@pytest.fixture(scope='module')
def slow_model(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(
        tmp_path_factory.mktemp('bag_slow_model') / 'tf2', compute_seconds=0.4)


@pytest.fixture(scope='module')
def segmenter(model):
    return Segmenter(SegmentationModel(locate_model(model)), coco_label_map())


def scene(index):
    """A BGR scene that the tiny model finds a red disc and a green box in."""
    rgb, _ = tiny_models.draw_scene(seed=index)
    return np.ascontiguousarray(rgb[..., ::-1])


class BagMaker:
    """A bag of camera frames (and a chatter topic between them) written with rosbags."""

    def __init__(self, path, storage, frames=4):
        self.path, self.storage, self.frames = path, storage, frames
        self.ros1 = storage == 'ros1'
        self.typestore = get_typestore(Stores.ROS1_NOETIC if self.ros1 else Stores.ROS2_JAZZY)
        self.camera_log_times = []

    def header(self, log_time):
        types = self.typestore.types
        stamp = types['builtin_interfaces/msg/Time'](sec=log_time // 10**9 - 3,
                                                     nanosec=log_time % 10**9)
        fields = {'seq': 0} if self.ros1 else {}
        return types['std_msgs/msg/Header'](stamp=stamp, frame_id='cam_optical', **fields)

    def image(self, bgr, log_time, encoding='bgr8', data=None):
        height, width = bgr.shape[:2]
        return self.typestore.types['sensor_msgs/msg/Image'](
            header=self.header(log_time), height=height, width=width, encoding=encoding,
            is_bigendian=0, step=width * 3, data=bgr.reshape(-1) if data is None else data)

    def serialize(self, message, msgtype):
        if self.ros1:
            return self.typestore.serialize_ros1(message, msgtype)
        return self.typestore.serialize_cdr(message, msgtype)

    def write(self, extra=None):
        """Write the bag; `extra(writer, add, write)` adds more topics and messages."""
        if self.ros1:
            writer = Writer1(self.path)
        else:
            plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
            writer = Writer(self.path, version=8, storage_plugin=plugin)
        with writer:
            def add(topic, msgtype):
                return writer.add_connection(topic, msgtype, typestore=self.typestore)

            def write(connection, log_time, message, msgtype):
                writer.write(connection, log_time, self.serialize(message, msgtype))

            camera = add(CAMERA, 'sensor_msgs/msg/Image')
            chatter = add('/chatter', 'std_msgs/msg/String')
            for k in range(self.frames):
                log_time = START_NS + k * PERIOD_NS
                write(camera, log_time, self.image(scene(k), log_time), 'sensor_msgs/msg/Image')
                self.camera_log_times.append(log_time)
                write(chatter, log_time + 1, self.typestore.types['std_msgs/msg/String'](
                    data=f'chat {k}'), 'std_msgs/msg/String')
            if extra:
                extra(writer, add, write)
        return self.path


def check_results(out, segmenter, frames, log_times, overlay=False):
    """OUT's results: names, types, log times, headers and content equal Segmenter's."""
    types, messages = read_bag(out)
    wanted = {**OUTPUTS, **(OVERLAYS if overlay else {})}
    for topic, msgtype in wanted.items():
        assert types[topic] == msgtype
        assert [t for t, _ in messages[topic]] == log_times, topic
    settings = PostprocessSettings()
    for k, log_time in zip(frames, log_times, strict=True):
        position = log_times.index(log_time)
        expected = segmenter.segment(scene(k), settings)
        _, mask = messages['/cam/segmentation/masks'][position]
        assert mask.encoding == 'mono8' and mask.header.frame_id == 'cam_optical'
        assert mask.header.stamp.sec == log_time // 10**9 - 3
        labels = np.asarray(mask.data).reshape(mask.height, mask.width)
        np.testing.assert_array_equal(labels, expected.instances.label_image)
        _, png = messages['/cam/segmentation/masks/compressed'][position]
        np.testing.assert_array_equal(
            cv2.imdecode(np.asarray(png.data), cv2.IMREAD_UNCHANGED), labels)
        _, text = messages['/cam/segmentation/detections_json'][position]
        frame = json.loads(text.data)
        assert frame['header']['frame_id'] == 'cam_optical'
        assert frame['detections'] == segmenter.coco(expected)
        assert len(frame['detections']) >= 1
        if overlay:
            _, image = messages['/cam/segmentation/overlay'][position]
            picture = np.asarray(image.data).reshape(image.height, image.width, 3)
            np.testing.assert_array_equal(picture, segmenter.overlay(scene(k), expected))
    return types, messages


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap', 'ros1'])
def test_round_trip_keeps_the_input_and_adds_the_results(storage, model, segmenter, tmp_path,
                                                         capsys):
    maker = BagMaker(tmp_path / ('in.bag' if storage == 'ros1' else 'in'), storage)
    source = maker.write()
    out = tmp_path / 'out'
    status, stdout, err = (*run_cli(capsys, 'bag', source, out, '--model', model),)
    assert status == 0, err
    assert 'segmented 4 frames of 1 camera topic' in stdout and 'frames/s' in stdout
    suffix = '.db3' if storage == 'sqlite3' else '.mcap'
    assert [p.suffix for p in out.iterdir() if p.name != 'metadata.yaml'] == [suffix]
    types, messages = check_results(out, segmenter, range(4), maker.camera_log_times)
    assert types[CAMERA] == 'sensor_msgs/msg/Image'
    assert [m.data for _, m in messages['/chatter']] == [f'chat {k}' for k in range(4)]
    assert [t for t, _ in messages[CAMERA]] == maker.camera_log_times
    _, first = messages[CAMERA][0]
    np.testing.assert_array_equal(np.asarray(first.data).reshape(first.height, first.width, 3),
                                  scene(0))


def test_results_only_overlay_and_json(model, segmenter, tmp_path, capsys):
    source = BagMaker(tmp_path / 'in', 'mcap').write()
    out, results = tmp_path / 'out', tmp_path / 'r.json'
    status, _, err = run_cli(capsys, 'bag', source, out, '--model', model, '--results-only',
                             '--overlay', '--json', results)
    assert status == 0, err
    log_times = [START_NS + k * PERIOD_NS for k in range(4)]
    types, messages = check_results(out, segmenter, range(4), log_times, overlay=True)
    assert types == {**OUTPUTS, **OVERLAYS, **VISION}
    coco = COCO(str(tmp_path / 'r.images.json'))
    detections = coco.loadRes(str(results))
    assert sorted(coco.getImgIds()) == [1, 2, 3, 4]
    assert len(detections.getAnnIds()) == len(json.loads(results.read_text())) >= 4
    assert coco.imgs[1]['topic'] == CAMERA
    if VISION_MSGS:  # the node's detections, and its latched label_info once
        assert [t for t, _ in messages['/cam/segmentation/label_info']] == log_times[:1]
        (_, label_info), = messages['/cam/segmentation/label_info']
        assert label_info.threshold == pytest.approx(0.5)
        assert [(c.class_id, c.class_name) for c in label_info.class_map][0] == (1, 'person')
        assert [t for t, _ in messages['/cam/segmentation/detections']] == log_times
        for (_, text), (_, array) in zip(messages['/cam/segmentation/detections_json'],
                                         messages['/cam/segmentation/detections'], strict=True):
            found = json.loads(text.data)['detections']
            assert array.header.frame_id == 'cam_optical'
            assert [d.results[0].hypothesis.class_id for d in array.detections] == [
                d['category_name'] for d in found]
            assert [d.id for d in array.detections] == [str(k + 1) for k in range(len(found))]


def test_without_vision_msgs_detections_and_label_info_are_not_written(model, tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))  # an index without vision_msgs
    source = BagMaker(tmp_path / 'in', 'mcap', frames=2).write()
    status, _, err = run_cli(capsys, 'bag', source, tmp_path / 'out', '--model', model,
                             '--results-only')
    assert status == 0, err
    notes = [line for line in err.splitlines() if 'vision_msgs' in line]
    assert notes == ['note: vision_msgs not installed (no share/vision_msgs/msg in the ament '
                     'index): detections, label_info and detections_3d not written']
    assert read_bag(tmp_path / 'out')[0] == OUTPUTS


def test_ctrl_c_then_resume_gives_one_result_per_frame(slow_model, tmp_path):
    maker = BagMaker(tmp_path / 'in', 'sqlite3', frames=8)
    source = maker.write()
    out = tmp_path / 'out'
    status, lines = interrupt_at([SCRIPT, 'bag', source, out, '--model', slow_model, '--json',
                                  tmp_path / 'r.json'], '[1/8]')
    assert status == 130, ''.join(lines)
    assert lines[-1].startswith('instance-segmentation: error: interrupted after ')
    _, messages = read_bag(out)
    done = len(messages['/cam/segmentation/masks'])
    assert 1 <= done < 8
    resumed = subprocess.run(
        [str(SCRIPT), 'bag', str(source), str(out), '--model', slow_model, '--json',
         str(tmp_path / 'r.json'), '--resume'], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    types, messages = read_bag(out)
    for topic in [*OUTPUTS, *VISION, CAMERA]:
        wanted = maker.camera_log_times[:1] if topic.endswith('label_info') else (
            maker.camera_log_times)
        assert [t for t, _ in messages[topic]] == wanted, topic
    assert [m.data for _, m in messages['/chatter']] == [f'chat {k}' for k in range(8)]
    images = json.loads((tmp_path / 'r.images.json').read_text())['images']
    assert [image['id'] for image in images] == list(range(1, 9))
    finished = subprocess.run(
        [str(SCRIPT), 'bag', str(source), str(out), '--model', slow_model, '--resume'],
        capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0 and 'segmented 0 frames' in finished.stdout
    assert len(read_bag(out)[1]['/cam/segmentation/masks']) == 8


def test_a_cut_off_mcap_is_read_as_far_as_it_goes(model, tmp_path, capsys):
    source = BagMaker(tmp_path / 'in', 'mcap', frames=12).write()
    (source / 'metadata.yaml').unlink()
    storage = next(source.glob('*.mcap'))
    data = storage.read_bytes()
    storage.write_bytes(data[:int(len(data) * 0.8)])
    status, stdout, err = run_cli(capsys, 'bag', source, tmp_path / 'out', '--model', model)
    assert status == 0, err
    assert 'is cut off' in err and 'metadata.yaml is missing' in err
    _, messages = read_bag(tmp_path / 'out')
    frames = len(messages['/cam/segmentation/masks'])
    assert frames == len(messages[CAMERA]) >= 1


def test_a_sqlite3_bag_without_metadata_is_read_whole(model, segmenter, tmp_path, capsys):
    maker = BagMaker(tmp_path / 'in', 'sqlite3')
    source = maker.write()
    (source / 'metadata.yaml').unlink()
    status, _, err = run_cli(capsys, 'bag', source, tmp_path / 'out', '--model', model)
    assert status == 0, err
    check_results(tmp_path / 'out', segmenter, range(4), maker.camera_log_times)


def test_unknown_types_and_broken_images_are_counted_and_the_rest_kept(model, segmenter,
                                                                       tmp_path, capsys):
    maker = BagMaker(tmp_path / 'in', 'sqlite3')
    typestore = maker.typestore
    types = typestore.types
    later = START_NS + 10 * PERIOD_NS

    def extra(writer, add, write):
        mystery = add('/mystery', 'std_msgs/msg/Int32')
        for k in range(3):
            write(mystery, later + k, types['std_msgs/msg/Int32'](data=k), 'std_msgs/msg/Int32')
        bad = scene(0)
        camera = writer.connections[0]
        write(camera, later + 10, maker.image(bad, later, encoding='bgr9'),
              'sensor_msgs/msg/Image')
        write(camera, later + 11, maker.image(bad, later, data=bad.reshape(-1)[:100]),
              'sensor_msgs/msg/Image')
        compressed = add('/front/image_raw/compressed', 'sensor_msgs/msg/CompressedImage')
        jpeg = np.frombuffer(encode_jpeg(scene(1), 90), np.uint8)
        for k, payload in enumerate((jpeg, jpeg[:len(jpeg) // 2])):
            write(compressed, later + 20 + k, types['sensor_msgs/msg/CompressedImage'](
                header=maker.header(later), format='jpeg', data=payload),
                'sensor_msgs/msg/CompressedImage')

    source = maker.write(extra)
    with sqlite3.connect(next(source.glob('*.db3'))) as db:  # the bag loses Int32's definition
        db.execute("DELETE FROM message_definitions WHERE topic_type = 'std_msgs/msg/Int32'")
    status, stdout, err = run_cli(capsys, 'bag', source, tmp_path / 'out', '--model', model)
    assert status == 0, err
    assert 'left out 3 messages of /mystery: std_msgs/msg/Int32' in err
    assert 'could not segment 3 messages:' in err
    assert "unsupported encoding 'bgr9'" in err and 'data_length' not in err
    assert 'image data has 100 bytes' in err
    types_out, messages = check_results(tmp_path / 'out', segmenter, range(4),
                                        maker.camera_log_times)
    assert '/mystery' not in types_out
    assert len(messages[CAMERA]) == 6  # the broken frames are kept as they were
    assert len(messages['/front/segmentation/masks']) == 1
    assert [m.data for _, m in messages['/chatter']] == [f'chat {k}' for k in range(4)]


def log_times(frames):
    """The log times of BagMaker's camera frames."""
    return [START_NS + k * PERIOD_NS for k in range(frames)]


def test_a_failed_bag_is_named_and_the_others_are_done_then_resume_finishes(
        model, segmenter, tmp_path, capsys):
    first = BagMaker(tmp_path / 'first', 'mcap', frames=2).write()
    broken = tmp_path / 'broken.bag'
    broken.write_bytes(b'no bag at all\n' * 10)
    third = BagMaker(tmp_path / 'third', 'sqlite3', frames=3).write()
    out = tmp_path / 'out'
    status, stdout, err = run_cli(capsys, 'bag', first, broken, third, out, '--model', model)
    assert status == 1, err
    errors = [line for line in err.splitlines() if ': error: ' in line]
    assert len(errors) == 2, err
    assert errors[0].startswith('instance-segmentation: error: ') and str(broken) in errors[0]
    assert errors[1] == (f'instance-segmentation: error: 1 of 3 bags failed ({broken}); the '
                         f'others were done')
    assert sorted(p.name for p in out.iterdir()) == ['first', 'third']
    check_results(out / 'first', segmenter, range(2), log_times(2))
    check_results(out / 'third', segmenter, range(3), log_times(3))
    assert stdout.count('segmented ') == 2

    broken.unlink()  # the bag is mended: --resume does it and leaves the done ones as they are
    BagMaker(broken, 'ros1', frames=4).write()
    status, stdout, err = run_cli(capsys, 'bag', first, broken, third, out, '--model', model,
                                  '--resume')
    assert status == 0, err
    assert [line.split(' frames')[0] for line in stdout.splitlines()
            if line.startswith('segmented')] == ['segmented 0', 'segmented 4', 'segmented 0']
    check_results(out / 'broken', segmenter, range(4), log_times(4))
    assert len(read_bag(out / 'first')[1]['/cam/segmentation/masks']) == 2


def test_ctrl_c_in_the_second_of_three_bags_then_resume_finishes_each(slow_model, tmp_path):
    makers = [BagMaker(tmp_path / name, 'mcap', frames=3) for name in ('a', 'b', 'c')]
    sources = [str(maker.write()) for maker in makers]
    out = tmp_path / 'out'
    command = [str(SCRIPT), 'bag', *sources, str(out), '--model', slow_model]
    status, lines = interrupt_at(command, '[1/3]', occurrence=2)  # the second bag's first
    assert status == 130, ''.join(lines)
    assert sorted(p.name for p in out.iterdir()) == ['a', 'b']  # c was never started
    assert 1 <= len(read_bag(out / 'b')[1]['/cam/segmentation/masks']) < 3
    resumed = subprocess.run([*command, '--resume'], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [line.split(' frames')[0] for line in resumed.stdout.splitlines()
            if line.startswith('segmented')][::2] == ['segmented 0', 'segmented 3']
    for name in ('a', 'b', 'c'):
        _, messages = read_bag(out / name)
        for topic in [*OUTPUTS, *VISION, CAMERA]:
            wanted = log_times(1 if topic.endswith('label_info') else 3)
            assert [t for t, _ in messages[topic]] == wanted, (name, topic)


@pytest.mark.parametrize('argv, fragment, status', [
    (['--topics', '/chatter'], 'is a std_msgs/msg/String', 2),
    (['--topics', '/nothing'], 'is not a topic of', 2),
    (['--resume'], 'is not there to continue', 2),
])
def test_usage_errors_are_one_line(argv, fragment, status, tmp_path, capsys):
    source = BagMaker(tmp_path / 'in', 'mcap', frames=1).write()
    code, _, err = run_cli(capsys, 'bag', source, tmp_path / 'out', *argv)
    assert code == status
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
