"""The list-models and download-model commands: the TensorFlow zoos' Mask R-CNNs."""

from __future__ import annotations

from .progress import ByteProgress


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
