"""The ROS layer: nodes, their console scripts, message builders and launch helpers.

The only modules that import rclpy, launch or a ROS message package. They adapt `core`,
`model` and `engine` to topics and parameters, and hold no algorithm of their own.
"""
