"""The list-models and download-model commands: the TensorFlow zoos' Mask R-CNNs."""

from __future__ import annotations

from .arguments import Command
from .progress import ByteProgress


def add_list_arguments(parser):
    """list-models takes no arguments."""


def run_list_models(args) -> int:
    """Print the catalogue of zoo Mask R-CNN models."""
    from ..model import zoo

    print(f'{"name":<54} {"zoo":<4} {"speed":>7} {"box mAP":>8} {"mask mAP":>9}  downloaded')
    for model in zoo.CATALOGUE.values():
        mask = f'{model.mask_map:.1f}' if model.mask_map is not None else '-'
        path = zoo.downloaded_model(model.name)
        print(f'{model.name:<54} {model.family:<4} {model.speed_ms:>4} ms {model.box_map:>8.1f} '
              f'{mask:>9}  {"yes" if path else "no"}')
    print('\nSpeed and COCO mAP as the zoos report them (TF1: GTX TITAN X, 600x600 images; '
          'TF2: 1024x1024 images).')
    print(f'Models are downloaded into {zoo.cache_dir()};')
    print('once downloaded, a NAME works wherever a model path does (--model, model_path).')
    return 0


def add_download_arguments(parser):
    """The model's name, and where it comes from and goes to."""
    parser.add_argument('name', metavar='NAME', help='model name (see list-models)')
    parser.add_argument('--dir', metavar='DIR', help='folder to download into (default: the '
                                                     'cache folder)')
    parser.add_argument('--url-base', metavar='URL',
                        help='zoo mirror to download from, https:// (default: '
                             '$INSTANCE_SEGMENTATION_ZOO_URL or https://download.tensorflow.'
                             'org/models/object_detection)')
    parser.add_argument('--insecure', action='store_true',
                        help='allow a plain http:// mirror (--url-base or $INSTANCE_'
                             'SEGMENTATION_ZOO_URL), over which anyone on the way could swap '
                             'the archive')
    parser.add_argument('--sha256', metavar='HEX',
                        help='expected sha256 of the archive (default: the one recorded at '
                             'the first download into the same folder)')


def run_download_model(args) -> int:
    """Download a zoo model and print the path to use as model_path."""
    from ..model import zoo

    zoo.lookup(args.name)  # unknown names fail before any network access
    reporter = ByteProgress(args.name)
    try:
        path = zoo.download(args.name, directory=args.dir, url_base=args.url_base,
                            sha256=args.sha256, progress=reporter.update, log=reporter.log,
                            insecure=args.insecure)
    finally:
        reporter.close()
    print(path.resolve())
    return 0


LIST_MODELS = Command(
    'list-models', help='list the zoo Mask R-CNN models',
    description='List the Mask R-CNN models of the TF1 and TF2 detection model zoos, '
                'their speed and COCO mAP as the zoo reports them, and which are '
                'downloaded.',
    add_arguments=add_list_arguments, run=run_list_models)

DOWNLOAD_MODEL = Command(
    'download-model', help='download a zoo model and print its model path',
    description='Download, verify and unpack a zoo Mask R-CNN, then print the path to '
                'pass as --model or model_path (the name works too, once downloaded). '
                'Cache folder: $ROS_HOME/instance_segmentation_ros/models when ROS_HOME '
                'is set, else ${XDG_CACHE_HOME:-~/.cache}/instance_segmentation_ros/'
                'models. An interrupted download resumes when run again.',
    add_arguments=add_download_arguments, run=run_download_model)
