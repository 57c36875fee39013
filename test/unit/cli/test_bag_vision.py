"""Where the bag command finds vision_msgs' definitions: the ament index's share/vision_msgs."""

from pathlib import Path

from instance_segmentation_ros.cli.bag_vision import definitions, message_folder

POINT2D = 'float64 x\nfloat64 y\n'
POSE2D = 'vision_msgs/Point2D position\nfloat64 theta\n'


def install(prefix: Path) -> Path:
    """A prefix with a two-message vision_msgs, as colcon installs one."""
    folder = prefix / 'share' / 'vision_msgs' / 'msg'
    folder.mkdir(parents=True)
    (folder / 'Point2D.msg').write_text(POINT2D)
    (folder / 'Pose2D.msg').write_text(POSE2D)
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'vision_msgs'
    marker.parent.mkdir(parents=True)
    marker.touch()
    return folder


def test_the_definitions_come_from_the_prefix_that_has_vision_msgs(tmp_path, monkeypatch):
    folder = install(tmp_path / 'ros')
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path / 'ros'))
    assert message_folder() == folder
    types = definitions()
    assert set(types) == {'vision_msgs/msg/Point2D', 'vision_msgs/msg/Pose2D'}


def test_no_vision_msgs_in_the_index_gives_no_definitions(tmp_path, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    assert message_folder() is None
    assert definitions() is None
