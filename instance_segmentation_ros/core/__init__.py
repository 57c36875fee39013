"""The core: values, image algorithms and codecs, without ROS and without TensorFlow.

Modules here import only the standard library, numpy, OpenCV, and each other (plus
`instance_segmentation_ros.errors`); the model, the engine, the ROS adapters and the CLI all
build on them.
"""
