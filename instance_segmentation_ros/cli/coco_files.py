"""The folder command's --json files: COCO results, and the COCO image list beside them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..errors import describe_os_error
from .common import PROG, CliError


def images_json_path(json_path: Path) -> Path:
    """The image list written beside a results file: `results.json` -> `results.images.json`."""
    return json_path.with_name(f'{json_path.stem}.images.json')


def write_coco_files(json_path: Path, results: list[dict], images: list[dict], segmenter):
    """Write the results and the image list; CliError naming where they were kept instead."""
    names = segmenter.label_map.names
    dataset = {
        'info': {'description': f'images segmented by {PROG} with model '
                                f'{segmenter.model.name}'},
        'images': images,
        'categories': [{'id': class_id, 'name': names[class_id]} for class_id in sorted(names)],
        'annotations': [],
    }
    images_path = images_json_path(json_path)
    try:
        json_path.write_text(json.dumps(results, separators=(',', ':')) + '\n')
        images_path.write_text(json.dumps(dataset, indent=1) + '\n')
    except OSError as error:
        # Checked before the run, so the place went away meanwhile: keep the results anyway.
        kept = Path(tempfile.mkdtemp(prefix='instance_segmentation_results_'))
        (kept / json_path.name).write_text(json.dumps(results, separators=(',', ':')) + '\n')
        (kept / images_path.name).write_text(json.dumps(dataset, indent=1) + '\n')
        raise CliError(f'cannot write {json_path}: {describe_os_error(error)}; the results are in '
                       f'{kept / json_path.name}') from None
