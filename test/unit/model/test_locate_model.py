"""Tests for source.locate_model and the layout rule under it: which files are a model (no TF)."""

from pathlib import Path

import pytest

from instance_segmentation_ros.model.layout import FROZEN_GRAPH_NAME, ModelError
from instance_segmentation_ros.model.source import locate_model


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')
    return path


def saved_model_folder(folder: Path) -> Path:
    """The files of a SavedModel export (empty placeholders)."""
    touch(folder / 'saved_model.pb')
    touch(folder / 'variables' / 'variables.index')
    touch(folder / 'variables' / 'variables.data-00000-of-00001')
    return folder


# --- accepted layouts ----------------------------------------------------------------------

def test_saved_model_folder(tmp_path):
    folder = saved_model_folder(tmp_path / 'my_export')
    source = locate_model(folder)
    assert source.path == folder and source.kind == 'saved_model'


def test_saved_model_folder_as_string_with_trailing_slash(tmp_path):
    folder = saved_model_folder(tmp_path / 'my_export')
    source = locate_model(str(folder) + '/')
    assert source.path == folder and source.kind == 'saved_model'


def test_saved_model_pb_file_gives_its_folder(tmp_path):
    folder = saved_model_folder(tmp_path / 'my_export')
    source = locate_model(folder / 'saved_model.pb')
    assert source.path == folder and source.kind == 'saved_model'


@pytest.mark.parametrize('name', ['frozen_inference_graph.pb', 'my_graph.pb', 'model.v2.pb'])
def test_frozen_graph_file(tmp_path, name):
    graph = touch(tmp_path / name)
    source = locate_model(graph)
    assert source.path == graph and source.kind == 'frozen_graph'


def test_tf2_zoo_folder(tmp_path):
    # mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8 as extracted from its tarball.
    zoo = tmp_path / 'mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8'
    saved_model_folder(zoo / 'saved_model')
    touch(zoo / 'checkpoint' / 'ckpt-0.index')
    touch(zoo / 'pipeline.config')
    source = locate_model(zoo)
    assert source.path == zoo / 'saved_model' and source.kind == 'saved_model'


def test_tf1_zoo_folder_prefers_the_frozen_graph(tmp_path):
    # mask_rcnn_inception_v2_coco_2018_01_28: both a frozen graph and a SavedModel.
    zoo = tmp_path / 'mask_rcnn_inception_v2_coco_2018_01_28'
    saved_model_folder(zoo / 'saved_model')
    touch(zoo / FROZEN_GRAPH_NAME)
    touch(zoo / 'model.ckpt.index')
    touch(zoo / 'pipeline.config')
    source = locate_model(zoo)
    assert source.path == zoo / FROZEN_GRAPH_NAME and source.kind == 'frozen_graph'


def test_zoo_folder_with_only_a_frozen_graph(tmp_path):
    zoo = tmp_path / 'zoo'
    touch(zoo / FROZEN_GRAPH_NAME)
    source = locate_model(zoo)
    assert source.path == zoo / FROZEN_GRAPH_NAME and source.kind == 'frozen_graph'


def test_frozen_graph_preferred_over_a_saved_model_in_the_same_folder(tmp_path):
    folder = saved_model_folder(tmp_path / 'both')
    touch(folder / FROZEN_GRAPH_NAME)
    source = locate_model(folder)
    assert source.path == folder / FROZEN_GRAPH_NAME and source.kind == 'frozen_graph'


def test_saved_model_folder_itself_wins_over_a_nested_one(tmp_path):
    folder = saved_model_folder(tmp_path / 'outer')
    saved_model_folder(folder / 'saved_model')
    assert locate_model(folder).path == folder


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    folder = saved_model_folder(tmp_path / 'models' / 'm')
    source = locate_model('~/models/m')
    assert source.path == folder and source.kind == 'saved_model'


def test_accepts_pathlike_and_relative_paths(tmp_path, monkeypatch):
    touch(tmp_path / 'rel' / FROZEN_GRAPH_NAME)
    monkeypatch.chdir(tmp_path)
    source = locate_model('rel')
    assert source.kind == 'frozen_graph'
    assert source.path.resolve() == (tmp_path / 'rel' / FROZEN_GRAPH_NAME).resolve()
    assert locate_model(Path('rel')).kind == 'frozen_graph'


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize('path', ['', '   ', '\t\n'])
def test_empty_path(path):
    with pytest.raises(ModelError, match='model_path is empty') as caught:
        locate_model(path)
    message = str(caught.value)
    assert 'SavedModel' in message and '.pb' in message and 'zoo' in message


def test_missing_path(tmp_path):
    missing = tmp_path / 'no_such_model'
    with pytest.raises(ModelError, match='does not exist') as caught:
        locate_model(missing)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize('name', ['model.pbtxt', 'pipeline.config', 'model.h5', 'weights.pb.gz',
                                  'graph'])
def test_a_file_that_is_not_a_pb(tmp_path, name):
    path = touch(tmp_path / name)
    with pytest.raises(ModelError, match=r'is a file but not a \.pb frozen graph') as caught:
        locate_model(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize('layout', [
    [],
    ['pipeline.config', 'checkpoint/ckpt-0.index'],
    ['saved_model/variables/variables.index'],
    ['variables/variables.index'],
    ['nested/saved_model/saved_model.pb'],
    ['nested/frozen_inference_graph.pb'],
    ['some_graph.pb'],
], ids=['empty', 'checkpoint only', 'saved_model without pb', 'variables only',
        'too deep', 'frozen too deep', 'other pb'])
def test_a_folder_that_is_not_a_model(tmp_path, layout):
    folder = tmp_path / 'not_a_model'
    folder.mkdir()
    for name in layout:
        touch(folder / name)
    with pytest.raises(ModelError, match='is not a model') as caught:
        locate_model(folder)
    message = str(caught.value)
    assert str(folder) in message
    assert 'saved_model.pb' in message and FROZEN_GRAPH_NAME in message


def test_frozen_graph_name_as_a_folder_is_not_taken(tmp_path):
    folder = tmp_path / 'odd'
    (folder / FROZEN_GRAPH_NAME).mkdir(parents=True)
    with pytest.raises(ModelError, match='is not a model'):
        locate_model(folder)
    saved_model_folder(folder / 'saved_model')
    assert locate_model(folder).kind == 'saved_model'
