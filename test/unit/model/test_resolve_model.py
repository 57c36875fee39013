"""Tests for source.resolve_model and segmenter.choose_model: which model, which labels (no TF).

The model folders are empty placeholders laid out as exports are; the built-in model is the
one the package ships.
"""

from pathlib import Path

import pytest

from instance_segmentation_ros.core.labels import LabelMapError
from instance_segmentation_ros.model import source as model_source
from instance_segmentation_ros.model.layout import FROZEN_GRAPH_NAME, ModelError, ModelSource
from instance_segmentation_ros.model.segmenter import choose_model
from instance_segmentation_ros.model.source import (
    BUILTIN_CAPTION,
    builtin_model,
    is_builtin_model,
    resolve_model,
)

ZOO_NAME = 'mask_rcnn_inception_v2_coco_2018_01_28'


def touch(path: Path, text: str = '') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def shipped():
    found = builtin_model()
    assert found is not None, 'instance_segmentation_ros/data/demo_model is missing'
    return found


# --- the built-in model ----------------------------------------------------------------------

@pytest.mark.parametrize('given', [None, '', '   '])
def test_no_model_path_means_the_builtin_model_with_its_labels(given, shipped):
    resolved = resolve_model(given)
    assert resolved.source == ModelSource(shipped[0], 'saved_model')
    assert resolved.label_map_path == str(shipped[1]) and resolved.builtin


@pytest.mark.parametrize('how', ['folder', 'saved_model', 'saved_model.pb', 'relative'])
def test_the_builtin_model_named_by_a_path_is_still_the_builtin_model(how, shipped,
                                                                      monkeypatch):
    saved_model, labels = shipped
    monkeypatch.chdir(saved_model.parent.parent)
    given = {'folder': saved_model.parent, 'saved_model': saved_model,
             'saved_model.pb': saved_model / 'saved_model.pb',
             'relative': Path(saved_model.parent.name) / 'saved_model' / '.'}[how]
    resolved = resolve_model(str(given))
    assert resolved.source.path.resolve() == saved_model.resolve()
    assert resolved.builtin and is_builtin_model(given)
    assert Path(resolved.label_map_path).resolve() == labels.resolve()  # not COCO's


def test_a_label_map_given_wins_over_the_one_beside_the_model(shipped):
    assert resolve_model('', '/given.txt').label_map_path == '/given.txt'
    assert resolve_model(str(shipped[0]), '/given.txt').label_map_path == '/given.txt'


def test_an_installation_without_the_builtin_model_says_to_give_one(tmp_path, monkeypatch):
    # The package's data folder as an installation without the demo model has it.
    monkeypatch.setattr(model_source, 'data_file', lambda *parts: tmp_path.joinpath(*parts))
    with pytest.raises(ModelError, match='no model_path given and this installation has no '
                                         'built-in demo model'):
        resolve_model('')
    graph = touch(tmp_path / 'other' / FROZEN_GRAPH_NAME)
    assert not resolve_model(str(graph.parent)).builtin


# --- other models ----------------------------------------------------------------------------

def test_a_model_elsewhere_is_not_builtin_and_has_coco_labels_unless_a_file_is_beside(tmp_path):
    folder = tmp_path / 'zoo_export'
    touch(folder / 'saved_model' / 'saved_model.pb')
    resolved = resolve_model(str(folder))
    assert resolved.source == ModelSource(folder / 'saved_model', 'saved_model')
    assert resolved.label_map_path == '' and not resolved.builtin
    labels = touch(folder / 'label_map.pbtxt', "item { id: 1 name: 'widget' }\n")
    for given in (folder, folder / 'saved_model', folder / 'saved_model' / 'saved_model.pb'):
        assert resolve_model(given).label_map_path == str(labels), given


def test_a_downloaded_zoo_name_resolves_to_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    folder = tmp_path / 'ros_home' / 'instance_segmentation_ros' / 'models' / ZOO_NAME
    touch(folder / FROZEN_GRAPH_NAME)
    resolved = resolve_model(ZOO_NAME)
    assert resolved.source == ModelSource(folder / FROZEN_GRAPH_NAME, 'frozen_graph')
    assert resolved.label_map_path == '' and not resolved.builtin
    labels = touch(folder / 'labels.txt', 'widget\n')
    assert resolve_model(ZOO_NAME).label_map_path == str(labels)


def test_a_missing_model_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    with pytest.raises(ModelError, match="^model_path '.*no_model' does not exist$"):
        resolve_model(str(tmp_path / 'no_model'))
    with pytest.raises(ModelError, match=f'does not exist; .*download-model {ZOO_NAME}'):
        resolve_model(ZOO_NAME)


# --- choose_model: the label map read, and what the overlays say ------------------------------

def test_choose_model_reads_the_builtin_models_labels_and_captions_photos_only():
    choice = choose_model('')
    assert sorted(choice.label_map.names.values()) == ['circle', 'square', 'triangle']
    assert choice.caption() == BUILTIN_CAPTION  # on images it cannot know
    assert choice.caption(own_scenes=True) == ''  # on its own generated scenes


def test_choose_model_gives_other_models_the_coco_map_and_no_caption(tmp_path):
    touch(tmp_path / 'm' / FROZEN_GRAPH_NAME)
    choice = choose_model(str(tmp_path / 'm'))
    assert choice.label_map.name(1) == 'person' and choice.caption() == ''


def test_choose_model_fails_on_a_label_map_it_cannot_read(tmp_path):
    touch(tmp_path / 'm' / FROZEN_GRAPH_NAME)
    with pytest.raises(LabelMapError, match='cannot read label map'):
        choose_model(str(tmp_path / 'm'), str(tmp_path / 'missing.pbtxt'))
