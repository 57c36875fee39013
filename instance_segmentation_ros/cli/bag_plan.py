"""The bag command's plan for one input: its cameras, and the input topics OUT leaves out.

Everything here is checked from the bag's connections before the model loads, so that a
wrong --topics or two cameras writing the same output is said at once.
"""

from __future__ import annotations

from pathlib import Path

from .common import EXIT_USAGE, CliError


def choose_cameras(args, reader, in_path: Path, vision: bool = False
                   ) -> tuple[dict, dict[str, str]]:
    """The Camera of each topic to segment, by topic, and each one's depth image topic.

    The cameras are --topics, else every camera topic that is not a depth image of another;
    with `vision` (vision_msgs definitions found) they get the vision_msgs outputs too.
    """
    from .bag_depth import check_depth_topic, find_depth
    from .bag_output import CAMERA_TYPES, COMPRESSED_TYPE, Camera, is_result_topic

    types = {c.topic: c.msgtype for c in reader.connections}
    named = [t.strip() for entry in args.topics for t in entry.split(',') if t.strip()]
    if args.depth_topic:
        check_depth_topic(args.depth_topic, types)
    for topic in named:
        if topic not in types:
            raise CliError(f'--topics: {topic} is not a topic of {in_path}', EXIT_USAGE)
        if types[topic] not in CAMERA_TYPES:
            raise CliError(f'--topics: {topic} is a {types[topic]}, not an Image or '
                           f'CompressedImage', EXIT_USAGE)
    if not named:
        named = [t for t, m in sorted(types.items())
                 if m in CAMERA_TYPES and not is_result_topic(t)]
        # image_transport records a raw topic and its /compressed twin: segment the raw one
        named = [t for t in named if not (types[t] == COMPRESSED_TYPE and t.endswith(
            '/compressed') and t[:-len('/compressed')] in named)]
        # a depth image (and its compressedDepth twin) is no camera
        depth_topics = {args.depth_topic} if args.depth_topic else set(
            find_depth(None, named, types).values())
        named = [t for t in named if t not in depth_topics and not any(
            t.startswith(f'{d}/') for d in depth_topics)]
    if not named:
        raise CliError(f'{in_path} has no sensor_msgs/Image or CompressedImage topic to '
                       f'segment')
    depth = find_depth(args.depth_topic, named, types)
    cameras = {t: Camera.of(t, types[t], args.overlay, t in depth, vision)
               for t in named}
    owners = {}
    for camera in cameras.values():
        for output in camera.outputs.values():
            if output in owners:
                raise CliError(f'{owners[output]} and {camera.topic} would both write '
                               f'{output}: segment one of them (--topics)', EXIT_USAGE)
            owners[output] = camera.topic
    return cameras, depth


def left_out_topics(reader, cameras: dict) -> dict[str, str]:
    """Input topic -> why OUT has none of its messages: replaced by results, or unreadable."""
    outputs = {output for camera in cameras.values() for output in camera.outputs.values()}
    left_out = {}
    for connection in reader.connections:
        if connection.topic in outputs:
            left_out[connection.topic] = 'replaced by the new results'
        elif connection.msgtype not in reader.typestore.fielddefs:
            left_out[connection.topic] = (f'{connection.msgtype}: the bag holds no '
                                          f'definition of this type')
    return left_out
