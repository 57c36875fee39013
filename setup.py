"""ament_python / pip set-up for instance_segmentation_ros."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = 'instance_segmentation_ros'
TRAINING_REQUIREMENTS = Path(__file__).resolve().parent / 'training' / 'requirements.txt'


def requirements(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file (empty when it is not there)."""
    if not path.is_file():
        return []
    lines = (line.split('#', 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    package_data={PACKAGE: [
        'data/*.pbtxt', 'data/*.jpg', 'data/*.xml',
        # The built-in demo model: a SavedModel and its labels (see training/README.md).
        'data/demo_model/*.txt', 'data/demo_model/saved_model/*.pb',
        'data/demo_model/saved_model/*.yaml',
        'data/demo_model/saved_model/variables/*', 'data/demo_model/saved_model/assets/*',
    ]},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.rviz')),
    ],
    python_requires='>=3.10',
    install_requires=['setuptools', 'numpy', 'pyyaml'],
    # Training the demo model (training/README.md): Model Garden pins its own TensorFlow, so
    # install this extra in a separate environment: pip install -e '.[train]'.
    extras_require={'train': requirements(TRAINING_REQUIREMENTS), 'ray': ['ray>=2.9']},
    zip_safe=False,
    maintainer='instance_segmentation_ros maintainers',
    maintainer_email='maintainers@instance-segmentation-ros.dev',
    description='Mask R-CNN instance segmentation for ROS 2 camera images.',
    license='MIT',
    entry_points={
        'console_scripts': [
            # Through exit_guard: Ctrl+C or SIGTERM during the imports exits 0 like later on.
            'segmentation_node = instance_segmentation_ros.ros.exit_guard:segmentation_node',
            'segmentation_lifecycle_node = instance_segmentation_ros.ros.exit_guard:segmentation_lifecycle_node',  # noqa: E501
            'webcam_publisher = instance_segmentation_ros.ros.exit_guard:webcam_publisher',
            'folder_player = instance_segmentation_ros.ros.exit_guard:folder_player',
            'instance-segmentation = instance_segmentation_ros.cli:main',
            'instance_segmentation = instance_segmentation_ros.cli:main',
        ],
    },
)
