"""The package's structure, read from its source with `ast` (nothing is imported).

Only the nodes and their support talk to ROS, so the CLI and the core run without a ROS
install; the TensorFlow loader knows nothing of downloads; and every error class derives from
errors.InstanceSegmentationError, so the CLI and the node report any of them in one clause.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'instance_segmentation_ros'
ROS_USERS = {'segmentation_node', 'segmentation_lifecycle_node', 'served_camera',
             'folder_player', 'webcam_publisher', 'launch_support', 'node_support',
             'detection_msgs'}
CORE = {'postprocess', 'render', 'results', 'stages', 'diagnostics', 'image_files',
        'compressed', 'video_source', 'model_source', 'labels', 'detections', 'errors',
        'depth3d', 'depth_input', 'stamp_pairing'}
ROS_PACKAGES = {'rclpy', 'rcl_interfaces', 'rosidl_runtime_py', 'builtin_interfaces',
                'std_msgs', 'sensor_msgs', 'diagnostic_msgs', 'vision_msgs', 'launch',
                'launch_ros', 'ament_index_python'}


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name below it ('model', 'cli.common')."""
    return {'.'.join(path.relative_to(PACKAGE).with_suffix('').parts): ast.parse(
        path.read_text(), str(path)) for path in sorted(PACKAGE.rglob('*.py'))}


def imports(name: str, tree: ast.Module) -> set[str]:
    """The absolute names module `name` imports anywhere, in functions too.

    Relative imports are resolved; `from a import b` gives both a and a.b (b may be a module).
    """
    package = ['instance_segmentation_ros', *name.split('.')[:-1]]
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


def test_only_the_nodes_and_their_support_import_rclpy():
    users = {name for name, tree in modules().items()
             if any(imported.split('.')[0] == 'rclpy' for imported in imports(name, tree))}
    assert users <= ROS_USERS
    assert 'segmentation_node' in users


def test_core_modules_import_no_ros_package():
    trees = modules()
    assert CORE <= trees.keys()
    assert {name: sorted(imported for imported in imports(name, trees[name])
                         if imported.split('.')[0] in ROS_PACKAGES)
            for name in CORE} == {name: [] for name in CORE}


def test_the_tensorflow_loader_does_not_import_the_zoo_download():
    trees = modules()
    assert 'instance_segmentation_ros.model_source' in imports('model', trees['model'])
    assert not any(imported.startswith('instance_segmentation_ros.zoo')
                   for imported in imports('model', trees['model']))


def test_every_error_class_derives_from_the_package_base():
    bases = {node.name: [base.id for base in node.bases if isinstance(base, ast.Name)]
             for tree in modules().values() for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef) and node.name.endswith('Error')}

    def from_base(name: str) -> bool:
        return name == 'InstanceSegmentationError' or any(
            base in bases and from_base(base) for base in bases[name])

    assert len(bases) > 10
    assert [name for name in bases if not from_base(name)] == []
