"""Topic names that the launch files, the rviz config and the CLI's bags agree on.

segmentation_node's own names are relative (`image` in; the outputs below); the launch files
put it in the namespace `segmentation`, and a folder player on `/image`.
"""

SEGMENTATION_NAMESPACE = 'segmentation'
OUTPUTS = ('masks', 'detections', 'detections_json', 'overlay', 'label_info')
FOLDER_IMAGE_TOPIC = '/image'


def segmentation_topic(output: str) -> str:
    """The absolute name of one of segmentation_node's outputs as the launch files place it."""
    return f'/{SEGMENTATION_NAMESPACE}/{output}'


RESULT_TOPIC = segmentation_topic('detections_json')
RECORDED_TOPICS = [FOLDER_IMAGE_TOPIC, '/image_file', *map(segmentation_topic, OUTPUTS)]
