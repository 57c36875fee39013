"""Models: which model a name or path means, fetching zoo models, loading and running them.

The only home of TensorFlow. Builds on `core`; knows nothing of ROS, the engine or the CLI.
"""
