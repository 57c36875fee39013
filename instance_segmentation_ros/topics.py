"""Topic names that the launch files, the rviz config and the CLI's bags agree on.

segmentation_node's own names are relative (`image` in; the outputs below); the launch files
put it in the namespace `segmentation`, and a folder player on `/image` (or `/image/compressed`).
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
