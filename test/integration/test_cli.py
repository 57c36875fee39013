"""The instance-segmentation console script end to end, on tiny real exported models.

Outputs are read back by independent readers: pycocotools for --json, rosbags for --bag, and
compared with what the shared pipeline computes in this process.
"""

import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import tiny_models
from captions import has_caption
from cli_run import (
    BIN,
    HEIGHT,
    SCENES,
    SCRIPT,
    WIDTH,
    assert_one_line_error,
    interrupt_at,
    read_bag,
    run_cli,
)
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from rgbd_truth import check_3d_against_truth

from instance_segmentation_ros import cli
from instance_segmentation_ros.cli.bag_writer import COMPRESSED_TOPICS, TOPICS
from instance_segmentation_ros.cli.coco_files import images_json_path, write_coco_files
from instance_segmentation_ros.cli.image import SAMPLE_IMAGE
from instance_segmentation_ros.cli.progress import ByteProgress, Progress
from instance_segmentation_ros.cli.viewer import opencv_has_gui
from instance_segmentation_ros.core.detections import PostprocessSettings
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.demo.depth_scenes import CALIBRATION_FILE, write_rgbd_scenes
from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED, sample_scene
from instance_segmentation_ros.model import tensorflow_model
from instance_segmentation_ros.model.segmenter import Segmenter
from instance_segmentation_ros.model.source import builtin_model, locate_model
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

BAG_START = 1_700_000_000
NO_SUCH_DISPLAY = ':9876'  # no X server answers there


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp('cli_models')
    return {
        'tf2': tiny_models.export_tf2_od_saved_model(root / 'tf2'),
        'tf1_zoo': tiny_models.make_zoo_folder(root / 'tf1_zoo', 'tf1'),
    }


def env_without_display(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    env.update(extra)
    return env


def segmenter_for(model_path):
    return Segmenter(SegmentationModel(locate_model(model_path)), coco_label_map())


# -- help --------------------------------------------------------------------------------------

@pytest.mark.parametrize('script', ['instance-segmentation', 'instance_segmentation'])
def test_help_lists_every_command(script):
    result = subprocess.run([str(BIN / script), '--help'], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stderr
    for command in ('image', 'folder', 'webcam', 'list-models', 'download-model'):
        assert command in result.stdout


def test_a_reader_that_stops_early_ends_the_output_quietly():
    """`instance-segmentation list-models | head -1`: head is gone before the table is out."""
    process = subprocess.Popen([str(SCRIPT), 'list-models'], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader leaves before the first write
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (141, '')


def test_no_command_prints_help_and_usage_errors_are_one_line(capsys):
    status, out, _ = run_cli(capsys)
    assert status == 2 and 'COMMAND' in out
    status, _, err = run_cli(capsys, 'folder', 'in_dir')
    assert_one_line_error(status, err, 'required: OUT_DIR', expected_status=2)
    status, _, err = run_cli(capsys, 'image', '--model', 'm', '--score-threshold', '1.5')
    assert_one_line_error(status, err, '1.5 is not between 0 and 1', expected_status=2)
    status, _, err = run_cli(capsys, 'folder', 'a', 'b', '--model', 'm', '--max-detections', '0')
    assert_one_line_error(status, err, 'from 1 to 255', expected_status=2)


# -- image -------------------------------------------------------------------------------------

def test_image_writes_the_overlay_and_one_line_per_instance(models, in_dir, tmp_path, capsys):
    output = tmp_path / 'result.png'
    status, out, err = run_cli(capsys, 'image', in_dir / 'scene_1.png', '--model',
                               models['tf2'], '--output', output)
    assert status == 0, err
    assert not err  # TensorFlow's start-up chatter is kept off the terminal
    lines = out.splitlines()
    assert lines[0].startswith('scene_1.png: 2 instances')
    assert 'person' in lines[1] and '90.0%' in lines[1] and 'car' in lines[2]
    assert lines[-1] == f'wrote {output}'

    original = cv2.imread(str(in_dir / 'scene_1.png'))
    overlay = cv2.imread(str(output))
    assert overlay.shape == original.shape
    _, truth = tiny_models.draw_scene(HEIGHT, WIDTH, seed=1)
    changed = np.any(overlay != original, axis=2)
    for mask in truth.values():
        assert changed[mask].mean() > 0.97  # the masks are tinted
    near = cv2.dilate((truth[1] | truth[3]).astype(np.uint8), np.ones((61, 61), np.uint8))
    assert not changed[near == 0].any()  # far from the instances nothing is drawn


@pytest.mark.parametrize('cpu_has_bfloat16', [True, False])
def test_precision_bf16_says_in_one_line_what_runs(cpu_has_bfloat16, models, in_dir, tmp_path,
                                                   capsys, monkeypatch):
    """bfloat16 where the CPU has it natively; on a CPU without it, fp32 and why."""
    flags = frozenset({'avx512f', 'avx512_bf16'} if cpu_has_bfloat16 else {'avx512f'})
    monkeypatch.setattr(tensorflow_model, 'read_cpu_flags', lambda: flags)
    status, out, err = run_cli(capsys, 'image', in_dir / 'scene_1.png', '--model', models['tf2'],
                               '--output', tmp_path / 'result.png', '--precision', 'bf16')
    assert status == 0, err
    assert out.splitlines()[0].startswith('scene_1.png: 2 instances')
    assert err.strip().splitlines() == [
        'instance-segmentation: precision bf16: bfloat16 on this CPU (avx512_bf16)'
        if cpu_has_bfloat16 else 'instance-segmentation: precision bf16: this CPU has no native '
        'bfloat16 (no avx512_bf16 or amx_bf16 flag): running fp32']


def test_an_unknown_precision_is_a_usage_error(capsys):
    status, _, err = run_cli(capsys, 'image', '--sample', '--precision', 'half')
    assert_one_line_error(status, err, "invalid choice: 'half'", expected_status=2)


def test_classes_before_the_image_path_leave_the_path_alone(models, in_dir, tmp_path, capsys):
    output = tmp_path / 'o.png'
    status, out, err = run_cli(capsys, 'image', '--classes', 'car', in_dir / 'scene_0.png',
                               '--model', models['tf2'], '-o', output)
    assert status == 0, err
    assert out.splitlines()[0].startswith('scene_0.png: 1 instance ') and output.is_file()
    status, out, err = run_cli(capsys, 'image', '--classes', 'car', '--classes', 'person',
                               in_dir / 'scene_0.png', '--model', models['tf2'], '-o', output)
    assert status == 0 and out.splitlines()[0].startswith('scene_0.png: 2 instances '), err


def test_image_classes_and_threshold_select_instances(models, in_dir, tmp_path, capsys):
    argv = ('image', in_dir / 'scene_0.png', '--model', models['tf2'], '-o', tmp_path / 'o.png')
    status, out, _ = run_cli(capsys, *argv, '--classes', 'car')
    assert status == 0 and out.splitlines()[0].startswith('scene_0.png: 1 instance ')
    assert 'car' in out and 'person' not in out
    status, out, _ = run_cli(capsys, *argv, '--score-threshold', '0.85')
    assert status == 0 and 'person' in out and 'car' not in out


def test_image_without_argument_uses_the_sample_photo(models, tmp_path):
    result = subprocess.run([str(SCRIPT), 'image', '--model', models['tf2']], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not result.stderr
    assert result.stdout.startswith('sample.jpg: ')
    written = cv2.imread(str(tmp_path / 'sample_segmented.png'))
    assert written is not None and written.shape == (512, 512, 3)


BUILTIN_WARNING = 'the built-in demo model knows only circles, squares and triangles'


def builtin_model_arguments(how: str) -> list:
    """No --model, or --model naming the built-in model by one of its paths."""
    saved_model = builtin_model()[0]
    return {'none': [], 'folder': ['--model', saved_model.parent],
            'saved_model': ['--model', saved_model],
            'saved_model.pb': ['--model', saved_model / 'saved_model.pb']}[how]


def builtin_model_lines(err: str) -> list[str]:
    """The stderr lines that speak of the built-in model: one says all there is to say."""
    return [line for line in err.splitlines() if 'built-in demo model' in line]


def described_classes(out: str) -> list[str]:
    """The class names of the per-instance lines of `image`."""
    return sorted(line.split()[1] for line in out.splitlines() if line.startswith('  '))


@pytest.mark.parametrize('how', ['none', 'folder', 'saved_model.pb'])
def test_image_with_the_builtin_model_and_no_image_segments_a_scene_it_knows(
        how, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, 'image', *builtin_model_arguments(how))
    assert status == 0, err
    scene = sample_scene()
    truth = sorted(instance.name for instance in scene.instances)
    assert set(truth) == {'circle', 'square', 'triangle'}
    assert out.startswith('generated scene (2 circles, 1 square, 1 triangle): ')
    assert described_classes(out) == truth
    assert out.splitlines()[-1] == 'wrote scene_segmented.png'
    overlay = cv2.imread(str(tmp_path / 'scene_segmented.png'))
    assert overlay.shape == (480, 640, 3) and not np.array_equal(overlay, scene.bgr)
    assert BUILTIN_WARNING not in err and not has_caption(overlay, scene.bgr)  # its own scene
    assert len(builtin_model_lines(err)) == (how == 'none')  # which model, when none was named


@pytest.mark.parametrize('how', ['none', 'folder', 'saved_model', 'saved_model.pb'])
def test_the_builtin_model_on_a_photo_says_so_on_stderr_and_on_the_overlay(how, tmp_path,
                                                                          capsys):
    photo = tmp_path / 'photo.png'
    sample = cv2.imread(str(Path(cli.__file__).parents[1] / 'data' / SAMPLE_IMAGE))
    assert cv2.imwrite(str(photo), sample)
    status, out, err = run_cli(capsys, 'image', photo, '-o', tmp_path / 'out.png',
                               *builtin_model_arguments(how))
    assert status == 0, err
    assert out.startswith('photo.png: ')
    assert ('no --model given' in err) == (how == 'none')
    assert len(builtin_model_lines(err)) == 1 and BUILTIN_WARNING in err, err
    assert has_caption(cv2.imread(str(tmp_path / 'out.png')), sample)


@pytest.mark.parametrize('how', ['none', 'folder'])
def test_sample_segments_the_sample_photo_with_the_builtin_model_too(how, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, 'image', '--sample', *builtin_model_arguments(how))
    assert status == 0, err
    assert out.startswith(f'{SAMPLE_IMAGE}: ') and out.splitlines()[-1] == (
        'wrote sample_segmented.png')
    sample = cv2.imread(str(Path(cli.__file__).parents[1] / 'data' / SAMPLE_IMAGE))
    assert sum(BUILTIN_WARNING in line for line in err.splitlines()) == 1  # a photo: said so
    assert has_caption(cv2.imread(str(tmp_path / 'sample_segmented.png')), sample)


def test_sample_and_an_image_are_a_usage_error(in_dir, capsys):
    status, _, err = run_cli(capsys, 'image', in_dir / 'scene_0.png', '--sample')
    assert_one_line_error(status, err, '--sample: not allowed with argument IMAGE',
                          expected_status=2)


def test_show_without_a_display_says_so_before_the_work(models, in_dir, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    output = tmp_path / 'shown.png'
    status, out, err = run_cli(capsys, 'image', in_dir / 'scene_0.png', '--model', models['tf2'],
                               '-o', output, '--show')
    assert_one_line_error(status, err, 'no display available')
    assert not output.exists() and not out


def test_show_on_a_display_no_one_serves_says_so(models, in_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('DISPLAY', NO_SUCH_DISPLAY)
    status, _, err = run_cli(capsys, 'image', in_dir / 'scene_0.png', '--model', models['tf2'],
                             '-o', tmp_path / 'shown.png', '--show')
    assert_one_line_error(status, err, 'cannot open a window', NO_SUCH_DISPLAY)


@pytest.mark.skipif(opencv_has_gui(), reason='this OpenCV has a GUI of its own')
def test_show_with_headless_opencv_and_no_tkinter_says_what_to_install(
        models, in_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('DISPLAY', NO_SUCH_DISPLAY)
    monkeypatch.setitem(sys.modules, 'tkinter', None)  # as on a Python built without Tk
    status, _, err = run_cli(capsys, 'image', in_dir / 'scene_0.png', '--model', models['tf2'],
                             '-o', tmp_path / 'shown.png', '--show')
    assert_one_line_error(status, err, 'no GUI', 'install python3-tk')


@pytest.mark.parametrize('case,fragments', [
    ('missing_image', ['image', 'does not exist']),
    ('corrupt_image', ['cannot read image', 'not an image OpenCV can decode']),
    ('truncated_image', ['cannot read image', 'truncated JPEG (no end-of-image marker)']),
    ('unknown_class', ["unknown class 'unicorn'", 'person']),
    ('missing_model', ["model_path '", 'does not exist']),
    ('bad_extension', ['OpenCV writes no .xyz files']),
    ('missing_label_map', ['cannot read label map']),
])
def test_image_errors_are_one_line(case, fragments, models, in_dir, tmp_path, capsys):
    args = {'image': in_dir / 'scene_0.png', 'model': models['tf2'], 'extra': []}
    if case == 'missing_image':
        args['image'] = tmp_path / 'nope.png'
    elif case == 'corrupt_image':
        args['image'] = in_dir / 'notes.txt'
    elif case == 'truncated_image':
        args['image'] = in_dir / 'broken.jpg'
    elif case == 'unknown_class':
        args['extra'] = ['--classes', 'person,unicorn']
    elif case == 'missing_model':
        args['model'] = tmp_path / 'no_model'
    elif case == 'bad_extension':
        args['extra'] = ['-o', tmp_path / 'out.xyz']
    else:
        args['extra'] = ['--label-map', tmp_path / 'labels.pbtxt']
    extra = args['extra'] if '-o' in args['extra'] else ['-o', tmp_path / 'o.png', *args['extra']]
    status, out, err = run_cli(capsys, 'image', args['image'], '--model', args['model'], *extra)
    assert_one_line_error(status, err, *fragments)
    assert not (tmp_path / 'o.png').exists()


# -- folder ------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def folder_run(models, in_dir, tmp_path_factory):
    """One run of the console script with every output; returns (result, paths)."""
    root = tmp_path_factory.mktemp('folder_run')
    paths = {'out': root / 'segmented', 'json': root / 'results.json', 'bag': root / 'bag'}
    command = [str(SCRIPT), 'folder', str(in_dir), str(paths['out']), '--model',
               models['tf1_zoo'], '--json', str(paths['json']), '--bag', str(paths['bag']),
               '--bag-start', str(BAG_START), '--masks']
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result, paths


@pytest.fixture(scope='module')
def expected(models, in_dir):
    """What the shared pipeline computes in this process, per readable image."""
    segmenter = segmenter_for(models['tf1_zoo'])
    computed = {}
    for name in SCENES:
        bgr = cv2.imread(str(in_dir / name))
        segmentation = segmenter.segment(bgr, PostprocessSettings())
        computed[name] = (bgr, segmentation, segmenter.overlay(bgr, segmentation),
                          segmenter.coco(segmentation))
    return computed


def test_folder_writes_overlays_and_lists_unreadable_files(folder_run, in_dir):
    result, paths = folder_run
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr
    written = sorted(p.name for p in paths['out'].iterdir())
    assert written == sorted([*SCENES, *(Path(n).stem + '_masks.png' for n in SCENES)])
    lines = result.stderr.strip().splitlines()
    reason = 'truncated JPEG (no end-of-image marker)'
    assert lines[-2:] == ['could not read 1 file:', f'  broken.jpg: {reason}']
    progress = [line for line in lines if line.startswith('[')]  # not a terminal: log lines
    assert len(progress) == 5 and progress[0].startswith(f'[1/5] broken.jpg: skipped ({reason})')
    assert 'Premature end of JPEG file' not in result.stderr  # refused before libjpeg reads it
    assert progress[-1].startswith('[5/5] scene_3.BMP: 2 instances') and 'img/s' in progress[-1]
    assert 'segmented 4 of 5 images' in result.stdout
    for name in SCENES:
        original = cv2.imread(str(in_dir / name))
        overlay = cv2.imread(str(paths['out'] / name))
        assert overlay.shape == original.shape and not np.array_equal(overlay, original)


def test_folder_progress_rate_counts_the_images_segmented(folder_run):
    # broken.jpg comes first, skipped at once: its line shows no rate (that would be thousands
    # of images a second); the lines of the segmented images do.
    result, _ = folder_run
    lines = [line for line in result.stderr.splitlines() if line.startswith('[')]
    assert lines[0] == '[1/5] broken.jpg: skipped (truncated JPEG (no end-of-image marker))'
    assert len(lines) == 5 and all(' img/s, ETA ' in line for line in lines[1:]), lines


def test_folder_overlays_and_masks_equal_the_pipeline_output(folder_run, expected):
    _, paths = folder_run
    for name, (_, segmentation, overlay, _) in expected.items():
        assert np.array_equal(cv2.imread(str(paths['out'] / name)), overlay)
        masks = cv2.imread(str(paths['out'] / (Path(name).stem + '_masks.png')),
                           cv2.IMREAD_UNCHANGED)
        assert masks.dtype == np.uint8 and masks.shape == (HEIGHT, WIDTH)
        assert np.array_equal(masks, segmentation.instances.label_image)
        assert set(np.unique(masks)) == {0, 1, 2}


def ground_truth(image_ids):
    """A COCO ground-truth dataset of the drawn scenes' true masks."""
    images, annotations = [], []
    for name, seed in SCENES.items():
        _, truth = tiny_models.draw_scene(HEIGHT, WIDTH, seed=seed)
        images.append({'id': image_ids[name], 'file_name': name, 'height': HEIGHT,
                       'width': WIDTH})
        for class_id, mask in truth.items():
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append({
                'id': len(annotations) + 1, 'image_id': image_ids[name],
                'category_id': class_id, 'segmentation': {
                    'size': rle['size'], 'counts': rle['counts'].decode('ascii')},
                'area': float(mask_utils.area(rle)), 'bbox': mask_utils.toBbox(rle).tolist(),
                'iscrowd': 0})
    gt = COCO()
    gt.dataset = {'images': images, 'annotations': annotations,
                  'categories': [{'id': 1, 'name': 'person'}, {'id': 3, 'name': 'car'}]}
    gt.createIndex()
    return gt


def test_folder_json_is_coco_results_that_pycocotools_scores(folder_run, expected, capsys):
    _, paths = folder_run
    listing = json.loads(images_json_path(paths['json']).read_text())
    image_ids = {image['file_name']: image['id'] for image in listing['images']}
    # 1-based positions in the sorted file list; broken.jpg (id 1) could not be read
    assert image_ids == {'scene_0.png': 2, 'scene_1.png': 3, 'scene_2.png': 4, 'scene_3.BMP': 5}
    assert all(image['height'] == HEIGHT and image['width'] == WIDTH
               for image in listing['images'])
    assert {'id': 3, 'name': 'car'} in listing['categories'] and listing['annotations'] == []

    results = json.loads(paths['json'].read_text())
    assert isinstance(results, list) and len(results) == 8
    for name, (_, _, _, entries) in expected.items():
        mine = [r for r in results if r['image_id'] == image_ids[name]]
        assert [{k: v for k, v in r.items() if k != 'image_id'} for r in mine] == entries

    gt = ground_truth(image_ids)
    detections = gt.loadRes(str(paths['json']))
    assert len(detections.anns) == 8
    for iou_type in ('segm', 'bbox'):
        evaluation = COCOeval(gt, detections, iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert evaluation.stats[0] >= 0.9, (iou_type, evaluation.stats)
    capsys.readouterr()

    # The image list is itself a COCO dataset (no annotations) that loadRes works against.
    listed = COCO(str(images_json_path(paths['json'])))
    assert len(listed.loadRes(str(paths['json'])).anns) == 8


def image_of(message):
    channels = message.step // message.width
    shape = (message.height, message.width) + ((channels,) if channels > 1 else ())
    return np.asarray(message.data, np.uint8).reshape(shape)


def test_folder_bag_reads_back_with_rosbags(folder_run, expected):
    _, paths = folder_run
    types, messages = read_bag(paths['bag'])
    assert types == TOPICS
    assert {topic: len(entries) for topic, entries in messages.items()} == {
        topic: len(SCENES) for topic in TOPICS}
    for k, (bgr, segmentation, overlay, entries) in enumerate(expected.values()):
        stamp_ns = (BAG_START + k) * 1_000_000_000
        assert all(messages[topic][k][0] == stamp_ns for topic in TOPICS)
        image, masks, drawn = (messages[topic][k][1] for topic in (
            '/image', '/segmentation/masks', '/segmentation/overlay'))
        for message in (image, masks, drawn):
            assert (message.header.stamp.sec, message.header.stamp.nanosec) == (BAG_START + k, 0)
            assert message.header.frame_id == 'camera'
        assert (image.encoding, masks.encoding, drawn.encoding) == ('bgr8', 'mono8', 'bgr8')
        assert np.array_equal(image_of(image), bgr)
        assert np.array_equal(image_of(masks), segmentation.instances.label_image)
        assert np.array_equal(image_of(drawn), overlay)
        frame = json.loads(messages['/segmentation/detections_json'][k][1].data)
        assert frame['header'] == {'stamp': {'sec': BAG_START + k, 'nanosec': 0},
                                   'frame_id': 'camera'}
        assert (frame['height'], frame['width'], frame['model']) == (HEIGHT, WIDTH, 'tf1_zoo')
        assert frame['detections'] == entries


def test_folder_bag_compressed_keeps_the_files_own_bytes(models, in_dir, tmp_path, capsys):
    bag = tmp_path / 'bag'
    status, _, err = run_cli(capsys, 'folder', in_dir, tmp_path / 'out', '--model', models['tf2'],
                             '--bag', bag, '--bag-compressed', '--bag-start', BAG_START)
    assert status == 0, err
    types, messages = read_bag(bag)
    assert types == COMPRESSED_TOPICS and '/image' not in messages
    images = [message for _, message in messages['/image/compressed']]
    assert len(images) == len(SCENES) == len(messages['/segmentation/masks'])
    for k, (name, message) in enumerate(zip(SCENES, images, strict=True)):
        assert (message.header.stamp.sec, message.header.frame_id) == (BAG_START + k, 'camera')
        data = bytes(message.data)
        if name.endswith('.png'):  # a PNG travels as it is
            assert data == (in_dir / name).read_bytes()
            assert message.format == 'bgr8; png compressed bgr8'
        else:  # a BMP becomes a lossless PNG
            assert message.format.endswith('png compressed bgr8')
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(decoded, cv2.imread(str(in_dir / name)))


def test_bag_compressed_without_bag_is_a_usage_error(models, in_dir, tmp_path, capsys):
    status, _, err = run_cli(capsys, 'folder', in_dir, tmp_path / 'out', '--model', models['tf2'],
                             '--bag-compressed')
    assert_one_line_error(status, err, '--bag-compressed needs --bag', expected_status=2)
    assert not (tmp_path / 'out').exists()


def test_folder_without_images_or_readable_images_fails(models, tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    status, _, err = run_cli(capsys, 'folder', tmp_path / 'empty', tmp_path / 'out', '--model',
                             models['tf2'])
    assert_one_line_error(status, err, 'no images in', '.jpg')
    status, _, err = run_cli(capsys, 'folder', tmp_path / 'missing', tmp_path / 'out',
                             '--model', models['tf2'])
    assert_one_line_error(status, err, 'input folder', 'does not exist')
    assert not (tmp_path / 'out').exists()

    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'a.png').write_bytes(b'')
    (tmp_path / 'bad' / 'b.txt').write_text('x')
    status, _, err = run_cli(capsys, 'folder', tmp_path / 'bad', tmp_path / 'out', '--model',
                             models['tf2'], '--bag', tmp_path / 'bag', '--json',
                             tmp_path / 'r.json')
    assert status == 1
    assert err.strip().splitlines()[-1].endswith('none of the 1 image files in the input folder '
                                                 'could be read')
    assert '  a.png: empty file' in err
    assert not (tmp_path / 'bag').exists() and not (tmp_path / 'r.json').exists()


def test_a_folder_of_unreadable_files_fails_before_the_model_loads(in_dir, tmp_path, capsys):
    # The model is found but cannot load: an error about it means the files were read too late.
    broken = tmp_path / 'broken_model' / 'frozen_inference_graph.pb'
    broken.parent.mkdir()
    broken.write_bytes(b'not a graph')
    images = tmp_path / 'unreadable'
    images.mkdir()
    (images / 'a.png').write_bytes(b'')
    (images / 'b.jpg').write_bytes((in_dir / 'broken.jpg').read_bytes())
    status, out, err = run_cli(capsys, 'folder', images, tmp_path / 'out', '--model',
                               broken.parent, '--bag', tmp_path / 'bag')
    assert status == 1 and not out
    assert err.splitlines() == [
        'could not read 2 files:', '  a.png: empty file',
        '  b.jpg: truncated JPEG (no end-of-image marker)',
        'instance-segmentation: error: none of the 2 image files in the input folder could be '
        'read']
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'bag').exists()


def test_a_failed_run_removes_the_output_folders_it_made_and_left_empty(in_dir, tmp_path,
                                                                        capsys):
    made = tmp_path / 'made' / 'out'
    status, _, err = run_cli(capsys, 'folder', in_dir, made, '--model', tmp_path / 'no_model')
    assert_one_line_error(status, err, 'no_model', 'does not exist')
    assert not (tmp_path / 'made').exists()
    there = tmp_path / 'there'
    there.mkdir()
    status, _, err = run_cli(capsys, 'folder', in_dir, there, '--model', tmp_path / 'no_model')
    assert_one_line_error(status, err, 'no_model', 'does not exist')
    assert there.is_dir()  # not made by the run: left alone


def unwritable_folder(tmp_path):
    """A folder in which a new folder cannot be made, even by root where possible."""
    if os.geteuid() != 0:
        folder = tmp_path / 'read_only'
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        os.mkdir('/sys/instance_segmentation_probe')
    except OSError:
        return Path('/sys')
    os.rmdir('/sys/instance_segmentation_probe')
    pytest.skip('no folder here is read-only for root')


@pytest.mark.parametrize('command, fragment', [
    (['image', '{image}', '-o', '{locked}/out.png'], 'cannot write out.png into {locked}'),
    (['folder', '{in_dir}', '{locked}'], 'cannot write overlays into {locked}'),
    (['folder', '{in_dir}', '{tmp}/out', '--json', '{locked}/r.json'],
     'cannot write r.json into {locked}'),
    (['demo', '--count', '1', '--out', '{locked}/demo'], 'cannot create {locked}/demo'),
], ids=['image', 'folder', 'json', 'demo'])
def test_outputs_are_checked_before_the_model_loads(command, fragment, in_dir, tmp_path,
                                                    capsys):
    # The model is found but cannot load: an error about it means the outputs were checked
    # too late.
    places = {'image': in_dir / 'scene_0.png', 'in_dir': in_dir, 'tmp': tmp_path,
              'locked': unwritable_folder(tmp_path)}
    broken = tmp_path / 'broken_model' / 'frozen_inference_graph.pb'
    broken.parent.mkdir()
    broken.write_bytes(b'not a graph')
    argv = [part.format(**places) for part in command]
    status, out, err = run_cli(capsys, *argv, '--model', str(broken.parent))
    assert_one_line_error(status, err, fragment.format(**places))
    assert 'broken_model' not in err


def test_results_that_cannot_be_written_at_the_end_are_kept_elsewhere(tmp_path):
    segmenter = types.SimpleNamespace(label_map=types.SimpleNamespace(names={1: 'person'}),
                                      model=types.SimpleNamespace(name='tiny'))
    results = [{'image_id': 1, 'category_id': 1, 'score': 0.9}]
    json_path = unwritable_folder(tmp_path) / 'r.json'
    with pytest.raises(cli.CliError) as error:
        write_coco_files(json_path, results, [{'id': 1, 'file_name': 'a.png'}], segmenter)
    kept = Path(str(error.value).rsplit('the results are in ', 1)[1])
    assert str(error.value).startswith(f'cannot write {json_path}: ')
    assert json.loads(kept.read_text()) == results
    assert json.loads(kept.with_name('r.images.json').read_text())['images'][0]['id'] == 1


@pytest.mark.parametrize('case', ['exists', 'parent_is_file', 'not_writable'])
def test_folder_bag_path_errors(case, models, in_dir, tmp_path, capsys):
    if case == 'exists':
        bag, fragments = tmp_path / 'bag', ['exists already']
        bag.mkdir()
    elif case == 'parent_is_file':
        (tmp_path / 'file').write_text('')
        bag, fragments = tmp_path / 'file' / 'bag', ['is a file, not a folder']
    else:
        bag, fragments = unwritable_folder(tmp_path) / 'bag', ['cannot create bag']
    status, _, err = run_cli(capsys, 'folder', in_dir, tmp_path / 'out', '--model',
                             models['tf2'], '--bag', bag)
    assert_one_line_error(status, err, *fragments)
    assert not (tmp_path / 'out').exists()


def test_folder_refuses_to_overwrite_its_input(models, in_dir, capsys):
    status, _, err = run_cli(capsys, 'folder', in_dir, in_dir / '.', '--model', models['tf2'])
    assert_one_line_error(status, err, 'OUT_DIR is IN_DIR')


def test_folder_progress_on_a_terminal_is_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = Progress(3, stream=stream)
    for k in range(3):
        progress.step(f'{k}.png', '1 instance')
    progress.close()
    text = stream.getvalue()
    assert '100%' in text and '3/3' in text and 'img/s' in text and '[1/3]' not in text

    stream = Terminal()
    download = ByteProgress('model', stream=stream)
    for done in range(0, 1_000_001, 250_000):
        download.update(done, 1_000_000)
    download.close()
    assert '100%' in stream.getvalue() and 'B/s' in stream.getvalue()


def test_ctrl_c_closes_the_bag_cleanly(slow_model, in_dir, tmp_path):
    images = tmp_path / 'many'
    images.mkdir()
    for k in range(8):
        (images / f'{k}.png').write_bytes((in_dir / 'scene_0.png').read_bytes())
    bag = tmp_path / 'bag'
    status, lines = interrupt_at([SCRIPT, 'folder', images, tmp_path / 'out', '--model',
                                  slow_model, '--bag', bag, '--json', tmp_path / 'r.json'],
                                 '[1/8]')
    assert status == 130, ''.join(lines)
    assert lines[-1].startswith('instance-segmentation: error: interrupted after ')
    assert 'Traceback' not in ''.join(lines)
    _, messages = read_bag(bag)
    frames = len(messages['/image'])
    assert 1 <= frames < 8
    assert [len(messages[topic]) for topic in TOPICS] == [frames] * 4
    assert len(list((tmp_path / 'out').iterdir())) == frames
    assert len(json.loads((tmp_path / 'r.json').read_text())) == 2 * frames


# -- webcam ------------------------------------------------------------------------------------

def test_webcam_without_display(models, capsys, monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    status, _, err = run_cli(capsys, 'webcam', '--model', models['tf2'])
    assert_one_line_error(status, err, 'no display available')


def test_webcam_that_cannot_be_opened(models, capsys, monkeypatch):
    monkeypatch.setenv('DISPLAY', NO_SUCH_DISPLAY)
    status, _, err = run_cli(capsys, 'webcam', '--device', '99', '--model', models['tf2'])
    assert_one_line_error(status, err, 'cannot open camera 99')
    status, _, err = run_cli(capsys, 'webcam', '--device', '/dev/no_such_camera', '--model',
                             models['tf2'])
    assert_one_line_error(status, err, 'cannot open camera /dev/no_such_camera')


def write_clip(path, frames=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for seed in range(frames):
        rgb, _ = tiny_models.draw_scene(HEIGHT, WIDTH, seed=seed)
        writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    writer.release()
    return path


def test_webcam_plays_a_video_file_to_its_end(models, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    clip = write_clip(tmp_path / 'clip.avi')
    output = tmp_path / 'annotated.avi'
    status, out, err = run_cli(capsys, 'webcam', '--device', clip, '--model', models['tf2'],
                               '--output', output)
    assert status == 0, err
    assert out.startswith(f'{clip}: end of file after 3 frames, ') and f'wrote {output}' in out

    segmenter = segmenter_for(models['tf2'])
    source, written = cv2.VideoCapture(str(clip)), cv2.VideoCapture(str(output))
    assert written.get(cv2.CAP_PROP_FPS) == pytest.approx(10)
    for _ in range(3):
        frame, annotated = source.read()[1], written.read()[1]
        expected = segmenter.overlay(frame, segmenter.segment(frame, PostprocessSettings()))
        assert annotated.shape == frame.shape
        # MJPG is lossy: the written frame is near the overlay and far from the plain frame.
        near, far = (np.abs(annotated.astype(int) - other).mean() for other in (expected, frame))
        assert near < 3 and far > 2 * near
    assert not written.read()[0]


@pytest.mark.parametrize('device,output,fragments', [
    ('clip.avi', 'out.mkv', ['cannot write out.mkv', '.mp4 or .avi']),
    ('clip.avi', 'no_folder/out.mp4', ['the folder', 'does not exist']),
    ('notes.txt', 'out.mp4', ['cannot open video file notes.txt']),
])
def test_webcam_output_errors_are_one_line(device, output, fragments, models, tmp_path, capsys,
                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('DISPLAY', raising=False)
    write_clip(tmp_path / 'clip.avi')
    (tmp_path / 'notes.txt').write_text('not a video')
    status, _, err = run_cli(capsys, 'webcam', '--device', device, '--model', models['tf2'],
                             '--output', output)
    assert_one_line_error(status, err, *fragments)


def segment_rgbd_folder(tmp_path, capsys, count: int, without_depth: int | None = None):
    """`folder --json --depth-camera-info` on `count` synthetic RGB-D scenes.

    The depth file of scene `without_depth` is removed first. Returns stdout, stderr, the COCO
    entries and the scene names.
    """
    folder = tmp_path / 'rgbd'
    names = write_rgbd_scenes(folder, count, seed=HELD_OUT_SEED)
    if without_depth is not None:
        (folder / f'{names[without_depth]}_depth.png').unlink()
    calibration = folder / CALIBRATION_FILE  # written beside the scenes
    results = tmp_path / 'results.json'
    status, out, err = run_cli(capsys, 'folder', folder, tmp_path / 'out', '--json', results,
                               '--depth-camera-info', calibration)
    assert status == 0, err
    return out, err, json.loads(results.read_text()), names


@pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')
def test_folder_with_depth_gives_each_instance_its_place_in_3d(tmp_path, capsys):
    out, _, entries, _ = segment_rgbd_folder(tmp_path, capsys, 4)
    assert 'segmented 4 of 4 images' in out  # the depth images are not segmented
    frames = [[e for e in entries if e['image_id'] == k + 1] for k in range(4)]
    assert check_3d_against_truth(frames, HELD_OUT_SEED) >= 8


def test_folder_depth_errors_before_the_model(tmp_path, in_dir, capsys):
    status, _, err = run_cli(capsys, 'folder', in_dir, tmp_path / 'out', '--depth-camera-info',
                             tmp_path / 'missing.yaml')
    assert_one_line_error(status, err, 'missing.yaml')
    assert not (tmp_path / 'out').exists()


def test_an_image_without_its_depth_file_is_listed_and_the_rest_go_on(tmp_path, capsys):
    _, err, entries, names = segment_rgbd_folder(tmp_path, capsys, 2, without_depth=0)
    assert f'no 3D for 1 image:\n  {names[0]}.png: {names[0]}_depth.png is missing' in err
    assert all('centroid' not in e for e in entries if e['image_id'] == 1)
    assert any(e.get('centroid') for e in entries if e['image_id'] == 2)
