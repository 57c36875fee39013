"""The engine: frames through the model in time (mailboxes, stage threads, their figures).

Plain threads and callables: no ROS, no TensorFlow, nothing of `core`, so the node, the
benchmarks and the tests drive it with any model and any clock.
"""
