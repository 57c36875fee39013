"""Tests for core.results: COCO results entries and the per-frame JSON."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from instance_segmentation_ros.core.detections import Instances, PostprocessSettings, RawDetections
from instance_segmentation_ros.core.labels import LabelMap, coco_label_map
from instance_segmentation_ros.core.postprocess import postprocess
from instance_segmentation_ros.core.results import coco_detections, frame_json, mots_lines

# pycocotools under numpy 2: noise, not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')

H, W = 60, 80


@pytest.fixture(scope='module')
def coco():
    return coco_label_map()


def instances_from_detections(seed, count=8, height=H, width=W, classes=None):
    rng = np.random.default_rng(seed)
    low = rng.uniform(-0.1, 0.8, (count, 2))
    high = low + rng.uniform(0.1, 0.6, (count, 2))
    if classes is None:
        classes = rng.choice([1, 3, 18, 44, 90], count)
    raw = RawDetections(
        boxes=np.concatenate([low, high], 1).astype(np.float32),
        classes=np.asarray(classes, np.int32),
        scores=np.sort(rng.uniform(0.5, 1, count))[::-1].astype(np.float32),
        masks=rng.uniform(0, 1, (count, 28, 28)).astype(np.float32))
    return postprocess(raw, height, width, PostprocessSettings())


def hand_instances():
    """Three rectangles, the second partly covered by the first."""
    label = np.zeros((H, W), np.uint8)
    label[20:40, 30:50] = 2
    label[10:30, 10:40] = 1
    label[50:55, 70:80] = 3
    return Instances(
        label_image=label,
        boxes=np.array([[10, 10, 40, 30], [30, 20, 50, 40], [70, 50, 80, 55]], np.float32),
        classes=np.array([1, 18, 12], np.int64),
        scores=np.array([0.987654321, 0.75, 0.5], np.float32),
        areas=np.array([np.count_nonzero(label == k) for k in (1, 2, 3)], np.int64))


def quiet(function, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def ground_truth(instances, label_map, image_id=1):
    """A COCO ground-truth dataset holding the instances of one label image."""
    height, width = instances.label_image.shape
    annotations = []
    for number in range(1, len(instances) + 1):
        mask = np.asfortranarray((instances.label_image == number).astype(np.uint8))
        if not mask.any():
            continue
        rle = mask_utils.encode(mask)
        rle['counts'] = rle['counts'].decode('ascii')
        annotations.append({
            'id': number, 'image_id': image_id, 'category_id': int(instances.classes[number - 1]),
            'segmentation': rle, 'area': float(mask_utils.area(rle)),
            'bbox': mask_utils.toBbox(rle).tolist(), 'iscrowd': 0})
    gt = COCO()
    gt.dataset = {
        'images': [{'id': image_id, 'height': height, 'width': width}],
        'annotations': annotations,
        'categories': [{'id': i, 'name': n} for i, n in sorted(label_map.names.items())],
    }
    quiet(gt.createIndex)
    return gt


# --- coco_detections -----------------------------------------------------------------------

def test_entries_fields_and_types(coco):
    entries = coco_detections(hand_instances(), coco)
    assert [e['id'] for e in entries] == [1, 2, 3]
    for entry in entries:
        assert set(entry) == {'id', 'category_id', 'category_name', 'score', 'bbox', 'area',
                              'segmentation'}
        assert type(entry['id']) is int and type(entry['category_id']) is int
        assert type(entry['area']) is int and type(entry['score']) is float
        assert all(type(v) is float for v in entry['bbox'])
        assert set(entry['segmentation']) == {'size', 'counts'}
        assert entry['segmentation']['size'] == [H, W]
        assert isinstance(entry['segmentation']['counts'], str)
    assert [e['category_id'] for e in entries] == [1, 18, 12]
    assert [e['category_name'] for e in entries] == ['person', 'dog', 'class_12']
    assert entries[0]['score'] == pytest.approx(0.98765, abs=1e-5)
    json.dumps(entries)  # plain JSON types only


def test_bbox_is_xywh_in_pixels(coco):
    instances = hand_instances()
    instances.boxes[0] = [10.123, 10.5, 40.25, 30.0]
    entries = coco_detections(instances, coco)
    assert entries[0]['bbox'] == pytest.approx([10.12, 10.5, 30.13, 19.5], abs=0.006)
    assert entries[1]['bbox'] == [30.0, 20.0, 20.0, 20.0]
    assert entries[2]['bbox'] == [70.0, 50.0, 10.0, 5.0]


def test_bbox_from_postprocess_boxes(coco):
    instances = instances_from_detections(3)
    entries = coco_detections(instances, coco)
    for entry, (x0, y0, x1, y1) in zip(entries, instances.boxes, strict=True):
        assert entry['bbox'] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=0.006)
        x, y, w, h = entry['bbox']
        assert x >= 0 and y >= 0 and x + w <= W + 0.01 and y + h <= H + 0.01


@pytest.mark.parametrize('seed', range(4))
def test_area_and_segmentation_equal_the_label_image(coco, seed):
    instances = instances_from_detections(seed)
    entries = coco_detections(instances, coco)
    assert len(entries) == len(instances) > 0
    for number, entry in enumerate(entries, start=1):
        expected = instances.label_image == number
        assert entry['area'] == np.count_nonzero(expected)
        decoded = mask_utils.decode({'size': entry['segmentation']['size'],
                                     'counts': entry['segmentation']['counts'].encode()})
        assert np.array_equal(decoded.astype(bool), expected)


def test_image_id_only_when_given(coco):
    instances = hand_instances()
    assert all('image_id' not in e for e in coco_detections(instances, coco))
    assert all(e['image_id'] == 42 for e in coco_detections(instances, coco, image_id=42))
    assert all(e['image_id'] == 0 for e in coco_detections(instances, coco, image_id=0))


def test_no_instances_gives_no_entries(coco):
    empty = Instances(np.zeros((H, W), np.uint8), np.zeros((0, 4), np.float32),
                      np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64))
    assert coco_detections(empty, coco) == []


def test_custom_label_map_names(coco):
    label_map = LabelMap({1: 'widget', 18: 'gadget'})
    entries = coco_detections(hand_instances(), label_map)
    assert [e['category_name'] for e in entries] == ['widget', 'gadget', 'class_12']


@pytest.mark.parametrize('make', [hand_instances, lambda: instances_from_detections(5, 12)],
                         ids=['hand', 'postprocess'])
def test_pycocotools_eval_of_perfect_detections_is_ap_1(coco, make):
    instances = make()
    gt = ground_truth(instances, coco, image_id=7)
    entries = coco_detections(instances, coco, image_id=7)
    # Instances wholly covered by better ones have no pixels: as results they are false
    # positives, so keep only those with pixels (as a user filtering on area would).
    entries = [e for e in entries if e['area'] > 0]
    results = quiet(gt.loadRes, entries)
    evaluation = COCOeval(gt, results, 'segm')
    quiet(evaluation.evaluate)
    quiet(evaluation.accumulate)
    quiet(evaluation.summarize)
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP @ IoU 0.50:0.95
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP @ IoU 0.50


def test_pycocotools_eval_notices_a_wrong_mask(coco):
    # The same check must be able to fail: shift one instance's mask.
    instances = hand_instances()
    gt = ground_truth(instances, coco, image_id=1)
    entries = coco_detections(instances, coco, image_id=1)
    shifted = np.roll(instances.label_image == 1, 8, axis=1)
    rle = mask_utils.encode(np.asfortranarray(shifted.astype(np.uint8)))
    entries[0]['segmentation'] = {'size': [H, W], 'counts': rle['counts'].decode('ascii')}
    evaluation = COCOeval(gt, quiet(gt.loadRes, entries), 'segm')
    quiet(evaluation.evaluate)
    quiet(evaluation.accumulate)
    quiet(evaluation.summarize)
    assert evaluation.stats[0] < 0.9


def test_entries_load_with_iou_1_against_the_label_image(coco):
    instances = instances_from_detections(6)
    entries = [e for e in coco_detections(instances, coco, image_id=1) if e['area'] > 0]
    gt = ground_truth(instances, coco)
    results = quiet(gt.loadRes, entries)
    for entry in entries:
        loaded = results.anns[entry['id']]
        truth = gt.anns[entry['id']]
        overlap = mask_utils.iou([results.annToRLE(loaded)], [gt.annToRLE(truth)], [0])
        assert overlap[0][0] == pytest.approx(1.0)


# --- frame_json ----------------------------------------------------------------------------

def test_frame_json_layout(coco):
    text = frame_json(hand_instances(), coco, stamp_sec=1700000000, stamp_nanosec=123456789,
                      frame_id='camera_optical', model_name='mask_rcnn_inception_v2',
                      inference_ms=79.12345)
    data = json.loads(text)
    assert list(data) == ['header', 'height', 'width', 'model', 'inference_ms', 'detections']
    assert data['header'] == {'stamp': {'sec': 1700000000, 'nanosec': 123456789},
                              'frame_id': 'camera_optical'}
    assert list(data['header']) == ['stamp', 'frame_id']
    assert list(data['header']['stamp']) == ['sec', 'nanosec']
    assert data['height'] == H and data['width'] == W
    assert data['model'] == 'mask_rcnn_inception_v2'
    assert data['inference_ms'] == pytest.approx(79.123, abs=1e-3)
    assert len(data['detections']) == 3
    for detection in data['detections']:
        assert set(detection) == {'id', 'category_id', 'category_name', 'score', 'bbox', 'area',
                                  'segmentation'}
        assert set(detection['segmentation']) == {'size', 'counts'}
    assert data['detections'] == coco_detections(hand_instances(), coco)


def test_frame_json_types_from_numpy_inputs(coco):
    text = frame_json(hand_instances(), coco, stamp_sec=np.int32(5), stamp_nanosec=np.uint32(7),
                      frame_id='f', model_name='m', inference_ms=np.float32(1.5))
    data = json.loads(text)
    assert data['header']['stamp'] == {'sec': 5, 'nanosec': 7}
    assert type(data['height']) is int and type(data['inference_ms']) is float


def test_frame_json_empty_frame(coco):
    empty = Instances(np.zeros((H, W), np.uint8), np.zeros((0, 4), np.float32),
                      np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64))
    data = json.loads(frame_json(empty, coco, 0, 0, '', 'model', 0.0))
    assert data['detections'] == [] and data['height'] == H and data['width'] == W
    assert data['header'] == {'stamp': {'sec': 0, 'nanosec': 0}, 'frame_id': ''}


def test_frame_json_is_one_line_strict_json(coco):
    text = frame_json(instances_from_detections(8), coco, 1, 2, 'cam "left"', 'm\u00e9', 3.0)
    assert '\n' not in text
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f'non-JSON {name}'))
    assert data['header']['frame_id'] == 'cam "left"' and data['model'] == 'm\u00e9'
    assert all(not math.isnan(d['score']) for d in data['detections'])


def test_frame_json_detections_load_in_pycocotools_once_given_an_image_id(coco):
    instances = hand_instances()
    data = json.loads(frame_json(instances, coco, 1, 2, 'cam', 'model', 3.0))
    entries = [dict(d, image_id=1) for d in data['detections']]
    gt = ground_truth(instances, coco)
    results = quiet(gt.loadRes, entries)
    assert len(results.anns) == 3


# --- track ids -------------------------------------------------------------------------------

def test_track_ids_are_a_field_only_when_given_and_null_while_unconfirmed(coco):
    instances = hand_instances()
    assert all('track_id' not in e for e in coco_detections(instances, coco))
    entries = coco_detections(instances, coco, track_ids=np.array([7, 0, 65535], np.uint16))
    assert [e['track_id'] for e in entries] == [7, None, 65535]
    assert all(type(e['track_id']) in (int, type(None)) for e in entries)
    data = json.loads(frame_json(instances, coco, 1, 2, 'cam', 'm', 1.0,
                                 track_ids=np.array([3, 4, 0])))
    assert [e['track_id'] for e in data['detections']] == [3, 4, None]
    assert 'track_id' not in frame_json(instances, coco, 1, 2, 'cam', 'm', 1.0)


def test_mots_lines_hold_the_confirmed_instances_pixels():
    instances = hand_instances()
    lines = mots_lines(5, instances, np.array([9, 0, 2]))
    assert len(lines) == 2
    for line, number, track_id in zip(lines, (1, 3), (9, 2), strict=True):
        frame, track, class_id, height, width, counts = line.split(' ')
        assert (int(frame), int(track), int(class_id)) == (5, track_id,
                                                          int(instances.classes[number - 1]))
        assert (int(height), int(width)) == (H, W)
        mask = mask_utils.decode({'size': [H, W], 'counts': counts.encode('ascii')})
        np.testing.assert_array_equal(mask.astype(bool), instances.label_image == number)
    assert mots_lines(1, instances, np.array([1, 2, 3]), lambda _: 2)[0].split(' ')[2] == '2'
