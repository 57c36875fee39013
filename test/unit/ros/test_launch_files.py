"""Launch files and config agree with the nodes, checked without importing `launch`.

The launch files run in test_launch_*.py where launch and launch_testing are installed; these
checks also run in a plain pip venv, reading the launch files as Python source: every
executable they start is installed by setup.py (or is rviz2), every launch argument has a
description, every parameter in config/*.yaml is one its node declares, every node's end is
handled by launch_support, and the rviz config and the CLI's bags use the topics the launch
files give the node.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

from instance_segmentation_ros.cli import bag_writer
from instance_segmentation_ros.core.topics import (
    DEFAULT_CAMERAS,
    RECORDED_TOPICS,
    SEGMENTATION_NAMESPACE,
    camera_image_topic,
    camera_topic,
)

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / 'instance_segmentation_ros' / 'ros'
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
LAUNCH_SUPPORT = PACKAGE / 'launch_support.py'
EXTERNAL_EXECUTABLES = {('rviz2', 'rviz2')}
NODE_CONFIGS = {
    'segmentation.yaml': 'segmentation_parameters.py',
    'webcam.yaml': 'webcam_publisher.py',
    'folder_player.yaml': 'folder_player.py',
}


def console_scripts() -> set[str]:
    setup = (ROOT / 'setup.py').read_text()
    return set(re.findall(r"'([\w-]+) = instance_segmentation_ros\.", setup))


def calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(
                function, 'id', None)
            if called == name:
                yield node


def keyword(call: ast.Call, name: str):
    for item in call.keywords:
        if item.arg == name and isinstance(item.value, ast.Constant):
            return item.value.value
    return None


def declared_parameters(module: Path) -> set[str]:
    """Parameter names a node module declares: the keys of its PARAMETERS table.

    The table itself, imported (the nodes declare every parameter from one table).
    """
    name = f'instance_segmentation_ros.ros.{module.stem}'
    return set(importlib.import_module(name).PARAMETERS)


def test_there_are_the_four_documented_launch_files():
    assert {p.name for p in LAUNCH_FILES} == {
        'segmentation.launch.py', 'webcam.launch.py', 'folder.launch.py', 'demo.launch.py',
        'multi_camera.launch.py'}


@pytest.mark.parametrize('source', [*LAUNCH_FILES, LAUNCH_SUPPORT], ids=lambda p: p.name)
def test_launch_file_starts_installed_executables_or_includes_one(source):
    tree = ast.parse(source.read_text())
    scripts = console_scripts()
    started = [(keyword(c, 'package'), keyword(c, 'executable'))
               for name in ('Node', 'LifecycleNode') for c in calls(tree, name)]
    assert started or list(calls(tree, 'IncludeLaunchDescription'))
    for package, executable in started:
        if package == 'instance_segmentation_ros' or package is None:
            assert executable in scripts, f'{executable} is not a console script'
        else:
            assert (package, executable) in EXTERNAL_EXECUTABLES


@pytest.mark.parametrize('launch_file', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_end_through_launch_support_only(launch_file):
    """When a launch ends, and with which exit status, is decided once: in launch_support.

    A launch file that starts a node of the package hands it to ends_launch or fails_launch
    (folder.launch.py's node is segmentation.launch.py's); none emits Shutdown by itself.
    """
    tree = ast.parse(launch_file.read_text())
    for name in ('Shutdown', 'OnProcessExit', 'OnShutdown'):
        assert not list(calls(tree, name)), f'{launch_file.name} calls {name}'
    nodes = [call for name in ('Node', 'LifecycleNode') for call in calls(tree, name)
             if keyword(call, 'package') != 'rviz2']
    handed = [call for name in ('ends_launch', 'fails_launch') for call in calls(tree, name)]
    assert bool(nodes) == bool(handed), launch_file.name


@pytest.mark.parametrize('launch_file', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_argument_has_a_description(launch_file):
    source = launch_file.read_text()
    tree = ast.parse(source)
    declared = list(calls(tree, 'DeclareLaunchArgument'))
    for call in declared:
        assert any(k.arg == 'description' for k in call.keywords), ast.unparse(call)
    # The others declare theirs from a table {name: (default, description)}.
    if not declared:
        assert 'declare_arguments(ARGUMENTS)' in source
        table = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and getattr(node.targets[0], 'id', None) == 'ARGUMENTS')
        for name, entry in zip(table.keys, table.values, strict=True):
            description = entry.elts[1]
            assert isinstance(description, ast.Constant) and description.value.strip(), \
                name.value


@pytest.mark.parametrize('launch_file', LAUNCH_FILES, ids=lambda p: p.name)
def test_config_files_named_by_launch_files_exist_and_are_installed(launch_file):
    source = launch_file.read_text()
    named = set(re.findall(r"(?:'config',\s*|config_file\()'([^']+)'", source))
    named |= set(re.findall(r"(?:'launch',\s*|launch_file\()'([^']+)'", source))
    assert named, f'{launch_file.name} names no config or launch file'
    setup = (ROOT / 'setup.py').read_text()
    assert "glob('config/*.yaml')" in setup and "glob('config/*.rviz')" in setup
    assert "glob('launch/*.launch.py')" in setup
    for name in named:
        folder = 'launch' if name.endswith('.launch.py') else 'config'
        assert (ROOT / folder / name).is_file(), f'{launch_file.name} names missing {name}'


@pytest.mark.parametrize('config, module', NODE_CONFIGS.items())
def test_yaml_parameters_are_declared_by_the_node(config, module):
    document = yaml.safe_load((ROOT / 'config' / config).read_text())
    assert list(document) == ['/**'], 'use /** so the file fits any node name'
    parameters = document['/**']['ros__parameters']
    declared = declared_parameters(PACKAGE / module)
    assert declared, f'no parameters found in {module}'
    unknown = set(parameters) - declared
    assert not unknown, f'{config} sets parameters {module} does not declare: {unknown}'
    missing = declared - set(parameters)
    assert not missing, f'{config} does not document {missing}'


def test_launch_overrides_name_declared_parameters():
    """Parameter names that launch files set directly must exist on the node they target."""
    segmentation = declared_parameters(PACKAGE / 'segmentation_parameters.py')
    source = (ROOT / 'launch' / 'segmentation.launch.py').read_text()
    for name in re.findall(r"overrides\['(\w+)'\]", source):
        assert name in segmentation
    player = declared_parameters(PACKAGE / 'folder_player.py')
    source = (ROOT / 'launch' / 'folder.launch.py').read_text()
    block = source[source.index("executable='folder_player'"):source.index('output=')]
    for name in re.findall(r"'(\w+)': ", block):
        assert name in player, name
    camera = declared_parameters(PACKAGE / 'webcam_publisher.py')
    tree = ast.parse((ROOT / 'launch' / 'webcam.launch.py').read_text())
    function = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                    and node.name == 'camera_and_segmentation')
    names = [key.value for node in ast.walk(function) if isinstance(node, ast.Assign)
             and getattr(node.targets[0], 'id', None) == 'overrides'
             for key in node.value.keys]
    names += [item.value for node in ast.walk(function) if isinstance(node, ast.For)
              for item in node.iter.elts]
    assert {'device', 'width', 'height'} <= set(names)
    for name in names:
        assert name in camera, name


def test_multi_camera_sets_parameters_its_nodes_declare():
    tree = ast.parse((ROOT / 'launch' / 'multi_camera.launch.py').read_text())
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}

    def set_names(function: ast.FunctionDef) -> set[str]:
        """Keys of the dict literals and of the name['key'] = ... assignments of a function."""
        names = {key.value for node in ast.walk(function) if isinstance(node, ast.Dict)
                 for key in node.keys if isinstance(key, ast.Constant)}
        names |= {node.slice.value for node in ast.walk(function)
                  if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.slice, ast.Constant)}
        return names

    for function, module, expected in [
            ('segmentation_node', 'segmentation_parameters.py', {'cameras', 'warmup_width'}),
            ('folder_players', 'folder_player.py', {'folder', 'wait_for_topic', 'frame_id'}),
            ('webcams', 'webcam_publisher.py', {'device', 'frame_id'})]:
        names = set_names(functions[function])
        assert expected <= names, (function, names)
        assert names <= declared_parameters(PACKAGE / module), (function, names)


def test_rviz_config_shows_overlay_masks_and_markers_relative_to_its_namespace():
    config = yaml.safe_load((ROOT / 'config' / 'instance_segmentation.rviz').read_text())
    displays = {display['Topic']['Value']: display['Class']
                for display in config['Visualization Manager']['Displays']}
    assert displays == {f'{SEGMENTATION_NAMESPACE}/overlay': 'rviz_default_plugins/Image',
                        f'{SEGMENTATION_NAMESPACE}/masks': 'rviz_default_plugins/Image',
                        f'{SEGMENTATION_NAMESPACE}/markers': 'rviz_default_plugins/MarkerArray'}


def launch_arguments(launch_file: Path) -> dict[str, ast.expr]:
    """The (default, description) table ARGUMENTS of a launch file: name -> default's node."""
    tree = ast.parse(launch_file.read_text())
    table = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], 'id', None) == 'ARGUMENTS')
    return {key.value: value.elts[0] for key, value in zip(table.keys, table.values,
                                                            strict=True)}


def test_multi_camera_rviz_config_shows_the_overlay_of_each_default_camera():
    config = yaml.safe_load((ROOT / 'config' / 'multi_camera.rviz').read_text())
    displays = {'/' + display['Topic']['Value']: display['Class']
                for display in config['Visualization Manager']['Displays']}
    assert displays == {camera_topic(camera, 'overlay'): 'rviz_default_plugins/Image'
                        for camera in DEFAULT_CAMERAS}
    assert set(displays) == {'/segmentation/left/overlay', '/segmentation/right/overlay'}
    # The launch file's defaults are the cameras and namespace the config shows.
    defaults = launch_arguments(ROOT / 'launch' / 'multi_camera.launch.py')
    assert yaml.safe_load(defaults['cameras'].value) == list(DEFAULT_CAMERAS)
    assert ast.unparse(defaults['namespace']) == 'SEGMENTATION_NAMESPACE'


def test_launch_files_start_rviz_with_an_installed_config():
    for launch_file in LAUNCH_FILES:
        for call in calls(ast.parse(launch_file.read_text()), 'rviz'):
            config = keyword(call, 'config') or 'instance_segmentation.rviz'
            assert (ROOT / 'config' / config).is_file(), f'{launch_file.name}: {config}'
    source = (ROOT / 'launch' / 'multi_camera.launch.py').read_text()
    assert "rviz(config='multi_camera.rviz')" in source


def test_camera_topics_are_under_the_node_namespace_or_absolute():
    assert camera_topic('left', 'overlay') == '/segmentation/left/overlay'
    assert camera_topic('front/left', 'masks', '/robot/seg') == '/robot/seg/front/left/masks'
    assert camera_topic('/robot/left', 'overlay') == '/robot/left/overlay'
    assert camera_topic('left', 'detections_json', '') == '/left/detections_json'
    assert camera_image_topic('left') == '/left/image'
    assert camera_image_topic('/robot/left') == '/robot/left/image'


def test_the_launch_records_what_the_cli_writes_to_its_bags():
    assert set(bag_writer.TOPICS) | set(bag_writer.COMPRESSED_TOPICS) <= set(RECORDED_TOPICS)
