"""Topic names that the launch files, the rviz config and the CLI's bags agree on.

segmentation_node's own names are relative (`image` in; the outputs below); the launch files
put it in the namespace `segmentation`, and a folder player on `/image` (or `/image/compressed`).
With several cameras (its `cameras` parameter) each camera's topics are the same names under
the camera's own namespace, `left/image`, `left/overlay`, ...: `camera_topic` spells them as
multi_camera.launch.py places them, `/segmentation/left/overlay`.
"""

SEGMENTATION_NAMESPACE = 'segmentation'
OUTPUTS = ('masks', 'detections', 'detections_json', 'overlay', 'label_info')
FOLDER_IMAGE_TOPIC = '/image'
COMPRESSED_SUFFIX = '/compressed'  # image_transport's: after the (remapped) raw image topic
FOLDER_COMPRESSED_IMAGE_TOPIC = FOLDER_IMAGE_TOPIC + COMPRESSED_SUFFIX


def segmentation_topic(output: str) -> str:
    """The absolute name of one of segmentation_node's outputs as the launch files place it."""
    return f'/{SEGMENTATION_NAMESPACE}/{output}'


RESULT_TOPIC = segmentation_topic('detections_json')
# Both image topics: the player publishes the one of its transport.
RECORDED_TOPICS = [FOLDER_IMAGE_TOPIC, FOLDER_COMPRESSED_IMAGE_TOPIC, '/image_file',
                   *map(segmentation_topic, OUTPUTS)]

# multi_camera.launch.py's cameras, unless told others (and the ones config/multi_camera.rviz
# shows).
DEFAULT_CAMERAS = ('left', 'right')


def camera_topic(camera: str, name: str, namespace: str = SEGMENTATION_NAMESPACE) -> str:
    """The absolute name of topic `name` of one camera of segmentation_node in `namespace`.

    A camera's name is relative to the node's namespace (`left`: /segmentation/left/overlay)
    or absolute (`/robot/left`: /robot/left/overlay), as the node's `cameras` parameter reads it.
    """
    if camera.startswith('/'):
        return f'{camera.rstrip("/")}/{name}'
    return '/' + '/'.join(filter(None, (namespace.strip('/'), camera.strip('/'), name)))


def camera_image_topic(camera: str) -> str:
    """Where multi_camera.launch.py has a camera publish its images unless told: /c/image.

    /left/image for `left`, /robot/left/image for `/robot/left`: outside the node's namespace
    for a relative name too, so that the cameras' topics stay apart from the node's outputs.
    """
    return f'/{camera.strip("/")}/image'
