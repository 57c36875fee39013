"""Train, evaluate and export the built-in demo Mask R-CNN with the TensorFlow Model Garden.

Run it with the training environment (see training/README.md), not the package's runtime one:

    nice -n 19 /tmp/train_venv/bin/python training/train.py --out /tmp/demo_training

Steps (each skipped when its output already exists, so an interrupted run can go on):
1. data: synthetic scenes (instance_segmentation_ros.demo.scenes) as COCO JSON + PNGs,
   then TFRecords in the format of Model Garden's TfExampleDecoder (PNG instance masks);
2. train: Model Garden's `maskrcnn_resnetfpn_coco` experiment with the overrides of
   training/maskrcnn_shapes.yaml (small MobileNetV2-FPN, 256x256 input, 4 classes, from scratch);
3. eval: Model Garden's COCO evaluator on the validation scenes;
4. export: `export_saved_model_lib.export_inference_graph` (input_type image_tensor, batch 1)
   to OUT/export/saved_model, plus OUT/export/labels.txt; copy OUT/export to
   instance_segmentation_ros/data/demo_model to ship it (or pass --install).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, for the scene generator

from instance_segmentation_ros.demo import coco_truth, scenes  # noqa: E402

TRAIN_SEED = 1
VAL_SEED = 2  # the held-out evaluation in evaluate.py uses yet another seed
CONFIG = HERE / 'maskrcnn_shapes.yaml'
EXPERIMENT = 'maskrcnn_resnetfpn_coco'
PACKAGE_MODEL = HERE.parent / 'instance_segmentation_ros' / 'data' / 'demo_model'


def make_tfrecord(coco_json: Path, record: Path, shards: int = 4):
    """TFRecords of a COCO dataset from synthetic_scenes in the TfExampleDecoder format."""
    import cv2
    import numpy as np
    import tensorflow as tf
    from pycocotools import mask as mask_utils

    data = json.loads(coco_json.read_text())
    by_image = {}
    for annotation in data['annotations']:
        by_image.setdefault(annotation['image_id'], []).append(annotation)
    writers = [tf.io.TFRecordWriter(f'{record}-{k:05d}-of-{shards:05d}') for k in range(shards)]

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def strings(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    for number, image in enumerate(data['images']):
        height, width = image['height'], image['width']
        encoded = (coco_json.parent / image['file_name']).read_bytes()
        annotations = by_image.get(image['id'], [])
        boxes = np.array([a['bbox'] for a in annotations], np.float32).reshape(-1, 4)
        masks = []
        for annotation in annotations:
            rle = dict(annotation['segmentation'])
            rle['counts'] = rle['counts'].encode('ascii')
            ok, png = cv2.imencode('.png', mask_utils.decode(rle).astype(np.uint8))
            assert ok
            masks.append(png.tobytes())
        feature = {
            'image/encoded': strings([encoded]),
            'image/format': strings([b'png']),
            'image/height': ints([height]),
            'image/width': ints([width]),
            'image/source_id': strings([str(image['id']).encode()]),
            'image/object/bbox/xmin': floats((boxes[:, 0] / width).tolist()),
            'image/object/bbox/xmax': floats(((boxes[:, 0] + boxes[:, 2]) / width).tolist()),
            'image/object/bbox/ymin': floats((boxes[:, 1] / height).tolist()),
            'image/object/bbox/ymax': floats(((boxes[:, 1] + boxes[:, 3]) / height).tolist()),
            'image/object/class/label': ints([a['category_id'] for a in annotations]),
            'image/object/area': floats([float(a['area']) for a in annotations]),
            'image/object/is_crowd': ints([0] * len(annotations)),
            'image/object/mask': strings(masks),
        }
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        writers[number % shards].write(example.SerializeToString())
    for writer in writers:
        writer.close()


def make_data(data_dir: Path, train_images: int, val_images: int):
    """Scenes and TFRecords for training (TRAIN_SEED) and validation (VAL_SEED)."""
    for split, seed, count in (('train', TRAIN_SEED, train_images),
                               ('val', VAL_SEED, val_images)):
        done = data_dir / f'{split}.done'
        if done.exists() and json.loads(done.read_text())['count'] == count:
            continue
        started = time.time()
        coco_json = coco_truth.write_coco_dataset(data_dir / split, count, seed=seed)
        make_tfrecord(coco_json, data_dir / f'{split}.tfrecord')
        done.write_text(json.dumps({'count': count, 'seed': seed}))
        logging.info('%s: %d scenes in %.0f s', split, count, time.time() - started)


def experiment(data_dir: Path, overrides: list[str]):
    """Model Garden's experiment config with our YAML overrides and the data paths."""
    import official.vision  # noqa: F401  (registers the vision experiments)
    from official.core import exp_factory
    from official.modeling import hyperparams

    params = exp_factory.get_exp_config(EXPERIMENT)
    params = hyperparams.override_params_dict(params, str(CONFIG), is_strict=True)
    params.override({'task': {
        'annotation_file': str(data_dir / 'val' / 'annotations.json'),
        'train_data': {'input_path': str(data_dir / 'train.tfrecord-*')},
        'validation_data': {'input_path': str(data_dir / 'val.tfrecord-*')},
    }}, is_strict=True)
    for override in overrides:
        params = hyperparams.override_params_dict(params, override, is_strict=True)
    steps = params.trainer.train_steps
    if params.trainer.optimizer_config.learning_rate.type == 'cosine':
        params.override({'trainer': {'optimizer_config': {'learning_rate': {
            'cosine': {'decay_steps': steps}}}}}, is_strict=True)
    params.validate()
    params.lock()
    return params


def train(params, model_dir: Path, mode: str = 'train'):
    """Run Model Garden's trainer (train_lib.run_experiment) on one CPU device."""
    from official.common import distribute_utils
    from official.core import task_factory, train_lib, train_utils

    model_dir.mkdir(parents=True, exist_ok=True)
    train_utils.serialize_config(params, str(model_dir))
    strategy = distribute_utils.get_distribution_strategy(
        distribution_strategy=params.runtime.distribution_strategy,
        num_gpus=params.runtime.num_gpus)
    with strategy.scope():
        task = task_factory.get_task(params.task, logging_dir=str(model_dir))
    # run_experiment returns metrics only from a post-eval pass, never from mode 'eval' itself.
    return train_lib.run_experiment(distribution_strategy=strategy, task=task, mode=mode,
                                    params=params, model_dir=str(model_dir),
                                    run_post_eval=mode == 'eval')


def export(params, model_dir: Path, export_dir: Path):
    """Model Garden's exporter: image_tensor input (uint8 [1, H, W, 3]), batch size 1."""
    import tensorflow as tf
    from official.vision.serving import export_saved_model_lib

    checkpoint = tf.train.latest_checkpoint(str(model_dir))
    if checkpoint is None:
        raise SystemExit(f'no checkpoint in {model_dir}')
    export_saved_model_lib.export_inference_graph(
        input_type='image_tensor', batch_size=1,
        input_image_size=list(params.task.model.input_size[:2]), params=params,
        checkpoint_path=checkpoint, export_dir=str(export_dir / 'saved_model'))
    (export_dir / 'labels.txt').write_text(scenes.label_text())
    return checkpoint


def main(argv=None):
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, required=True, help='work folder')
    parser.add_argument('--train-images', type=int, default=3000)
    parser.add_argument('--val-images', type=int, default=200)
    parser.add_argument('--override', action='append', default=[],
                        help='Model Garden override, e.g. trainer.train_steps=100 (repeatable)')
    parser.add_argument('--steps', type=int, help='shorthand for trainer.train_steps')
    parser.add_argument('--install', action='store_true',
                        help=f'copy the export to {PACKAGE_MODEL} (replacing what is there)')
    parser.add_argument('--only', choices=('data', 'train', 'eval', 'export'),
                        help='run only this step')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    overrides = list(args.override)
    if args.steps:
        overrides.append(f'trainer.train_steps={args.steps}')
    out = args.out
    data_dir, model_dir, export_dir = out / 'data', out / 'model', out / 'export'
    steps = ('data', 'train', 'eval', 'export') if args.only is None else (args.only,)
    if 'data' in steps:
        make_data(data_dir, args.train_images, args.val_images)
    params = experiment(data_dir, overrides)
    if 'train' in steps:
        started = time.time()
        train(params, model_dir, 'train')
        logging.info('training took %.1f min', (time.time() - started) / 60)
    if 'eval' in steps:
        _, metrics = train(params, model_dir, 'eval')
        summary = {k: float(v) for k, v in metrics.items() if k.startswith(('AP', 'mask_AP'))}
        (out / 'eval_metrics.json').write_text(json.dumps(summary, indent=1))
        logging.info('validation metrics: %s', summary)
    if 'export' in steps:
        checkpoint = export(params, model_dir, export_dir)
        logging.info('exported %s to %s', checkpoint, export_dir / 'saved_model')
    if args.install:
        install(export_dir)


def install(export_dir: Path):
    """Ship the export in the package: saved_model/ and labels.txt, nothing else."""
    import shutil

    if PACKAGE_MODEL.exists():
        shutil.rmtree(PACKAGE_MODEL)
    shutil.copytree(export_dir / 'saved_model', PACKAGE_MODEL / 'saved_model')
    shutil.copy2(export_dir / 'labels.txt', PACKAGE_MODEL / 'labels.txt')
    logging.info('installed the model in %s', PACKAGE_MODEL)


if __name__ == '__main__':
    main()
