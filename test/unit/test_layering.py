"""The package's layers, read from its folders and its source with `ast` (nothing is imported).

The folder a module sits in says what it may import: `core` (values, image algorithms,
codecs) and `engine` (frames in time) stand on nothing but `errors`; `model` adds TensorFlow
over `core`; `ros` is the only home of rclpy, launch and the message packages; `cli` and `demo`
sit beside `ros` on top, and none of the three reaches another (`cli` may run the demo). Every
error class derives from errors.InstanceSegmentationError, so the CLI and the node report any
of them in one clause.
"""

import ast
from pathlib import Path

PACKAGE_NAME = 'instance_segmentation_ros'
PACKAGE = Path(__file__).resolve().parents[2] / PACKAGE_NAME
LAYERS = {'core', 'model', 'engine', 'ros', 'cli', 'demo'}
# What each folder may import of the package ('' is the package itself: errors, data_file).
MAY_IMPORT = {
    'core': {'', 'core'},
    'engine': {'', 'engine'},
    'model': {'', 'core', 'model'},
    'demo': {'', 'core', 'model', 'demo'},
    'cli': {'', 'core', 'model', 'engine', 'demo', 'cli'},
    'ros': {'', 'core', 'model', 'engine', 'ros'},
    '': {''},
}
ROS_PACKAGES = {'rclpy', 'rcl_interfaces', 'rosidl_runtime_py', 'builtin_interfaces',
                'std_msgs', 'sensor_msgs', 'diagnostic_msgs', 'vision_msgs', 'visualization_msgs',
                'geometry_msgs', 'lifecycle_msgs', 'launch', 'launch_ros', 'launch_testing'}
# ament_index_python (a plain lookup of installed files) is not among them: core.camera_info
# resolves package:// calibration URLs with it, as camera_info_manager does.


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name below it ('core.labels', 'cli.common')."""
    return {'.'.join(path.relative_to(PACKAGE).with_suffix('').parts): ast.parse(
        path.read_text(), str(path)) for path in sorted(PACKAGE.rglob('*.py'))}


def layer(name: str) -> str:
    """The folder of module `name` ('' for a module at the top: errors, __init__)."""
    return name.split('.')[0] if '.' in name else ''


def imports(name: str, tree: ast.Module) -> set[str]:
    """The absolute names module `name` imports anywhere, in functions too.

    Relative imports are resolved; `from a import b` gives both a and a.b (b may be a module).
    """
    parts = name.split('.')
    package = [PACKAGE_NAME, *(parts if parts[-1] == '__init__' else parts)[:-1]]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = '.'.join(package[:len(package) - node.level + 1] if node.level else [])
            module = '.'.join(part for part in (base, node.module) if part)
            found.add(module)
            found.update(f'{module}.{alias.name}' for alias in node.names)
    return found


def package_layers(imported: set[str]) -> set[str]:
    """The folders of the package that a set of imported names reaches."""
    inside = (name[len(PACKAGE_NAME) + 1:] for name in imported
              if name.startswith(PACKAGE_NAME + '.'))
    return {part.split('.')[0] if part.split('.')[0] in LAYERS else '' for part in inside}


def test_every_module_sits_in_a_layer_folder():
    assert {layer(name) for name in modules()} == LAYERS | {''}
    assert {name for name in modules() if not layer(name)} == {'__init__', 'errors'}


def test_each_folder_imports_only_the_layers_below_it():
    wrong = {}
    for name, tree in modules().items():
        reached = package_layers(imports(name, tree)) - MAY_IMPORT[layer(name)]
        if reached:
            wrong[name] = sorted(reached)
    assert wrong == {}


def test_only_the_ros_folder_imports_ros_packages():
    users = {name for name, tree in modules().items()
             if any(imported.split('.')[0] in ROS_PACKAGES for imported in imports(name, tree))}
    assert users and {layer(name) for name in users} == {'ros'}
    assert 'ros.segmentation_node' in users


def test_only_the_model_folder_imports_tensorflow():
    users = {name for name, tree in modules().items()
             if any(imported.split('.')[0] == 'tensorflow' for imported in imports(name, tree))}
    assert users and {layer(name) for name in users} == {'model'}


def package_imports(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports, anywhere in it (dotted names below it)."""
    found = {}
    for name, tree in trees.items():
        inside = {imported[len(PACKAGE_NAME) + 1:] for imported in imports(name, tree)
                  if imported.startswith(PACKAGE_NAME + '.')}
        found[name] = {module for module in inside if module in trees and module != name}
    return found


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each module that reaches itself again through imports, with the path it takes."""
    circles = []
    for start in sorted(graph):
        paths = [[start]]
        seen = set()
        while paths:
            path = paths.pop()
            for module in sorted(graph[path[-1]]):
                if module == start:
                    circles.append(path + [start])
                elif module not in seen:
                    seen.add(module)
                    paths.append(path + [module])
    return circles


def test_no_module_imports_itself_back():
    # Function-level imports count: a circle hidden by a lazy import is still a circle.
    graph = package_imports(modules())
    assert graph['model.source'] and graph['model.zoo']  # the check sees what they import
    assert import_circles(graph) == []


def test_import_circles_are_found():
    graph = {'model.a': {'model.b'}, 'model.b': {'model.c'}, 'model.c': {'model.a'},
             'core.d': set()}
    assert import_circles(graph)[0] == ['model.a', 'model.b', 'model.c', 'model.a']
    assert import_circles({'model.a': {'model.b'}, 'model.b': set()}) == []


def test_the_tensorflow_loader_knows_neither_names_nor_the_zoo():
    loader = package_imports(modules())['model.tensorflow_model']
    assert 'model.layout' in loader
    assert not loader & {'model.zoo', 'model.source'}


def test_the_zoo_stands_on_the_layout_alone():
    zoo = package_imports(modules())['model.zoo']
    assert {module for module in zoo if layer(module) == 'model'} == {'model.layout'}


def test_every_error_class_derives_from_the_package_base():
    bases = {node.name: [base.id for base in node.bases if isinstance(base, ast.Name)]
             for tree in modules().values() for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef) and node.name.endswith('Error')}

    def from_base(name: str) -> bool:
        return name == 'InstanceSegmentationError' or any(
            base in bases and from_base(base) for base in bases[name])

    assert len(bases) > 10
    assert [name for name in bases if not from_base(name)] == []


def test_every_folder_says_what_lives_there():
    for folder in LAYERS:
        docstring = ast.get_docstring(ast.parse((PACKAGE / folder / '__init__.py').read_text()))
        assert docstring and len(docstring.splitlines()[0]) > 20, folder
