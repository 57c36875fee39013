"""The nodes' console scripts, and the signal guard that makes their exit status certain.

A node exits 0 on Ctrl+C (SIGINT) or SIGTERM whenever it comes (1 stays a fatal start error,
folder_player's 0 the end of the folder). Python and rclpy alone do not give that: a signal
during the imports (rclpy, TensorFlow: seconds) ends in a KeyboardInterrupt traceback or a
signal status; a KeyboardInterrupt can land inside rclpy's own code and print one; and during
interpreter exit Python puts the default SIGINT action back, so that a late Ctrl+C, such as the
one `ros2 launch` sends when a node has just finished, kills the process. One handler for both
signals, whose action depends on what the node is doing, closes these gaps:

* starting (from the console script until rclpy.init): nothing to clean up yet, so a signal
  ends the process at once with status 0;
* initialising and spinning: the signal is only noted. rclpy's handler, which chains to this
  one, shuts the context down and wakes the executor; node_support.spin_until_stopped also
  looks at the note, so spinning ends either way and the node closes cleanly;
* building the node (loading a model takes seconds): the first signal raises
  KeyboardInterrupt, so that start-up stops at once; a signal noted during rclpy.init raises
  it as building begins;
* closing (from the node's clean-up until the process is gone): SIG_IGN. Neither rclpy (whose
  signal thread would shut the context down under the clean-up) nor Python acts on a further
  signal, and Python's exit leaves SIG_IGN alone.

The console scripts enter here, so that the guard is in place before the node module imports
anything; the nodes' main functions install it too, for other ways of starting them. Only the
interpreter's own start, before this module runs, is not covered. Standard library only.
"""

import importlib
import os
import signal
import sys
import threading

from . import tensorflow_notes

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STARTING, NOTING, BUILDING, CLOSING = 'starting', 'noting', 'building', 'closing'

_phase = None  # None until install(), and where it cannot be installed
_signalled = False  # a signal came after start-up
_raised = False  # the one KeyboardInterrupt was raised


def _on_signal(signum, frame):
    global _signalled
    if _phase == STARTING:
        _leave(0)
    if _phase == CLOSING:
        return
    _signalled = True
    if _phase == BUILDING:
        _raise_once()


def _raise_once():
    global _raised
    if not _raised:
        _raised = True
        raise KeyboardInterrupt


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError, AttributeError):
            pass  # closed, or a signal that came in the middle of a write


def _leave(status):
    _flush()
    os._exit(status)


def install():
    """Take over SIGINT and SIGTERM (starting); does nothing when done already.

    Only the main thread can install signal handlers: elsewhere (a node run by a test) this
    and the calls below do nothing.
    """
    global _phase
    if _phase is not None or threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    _phase = STARTING


def _enter(phase):
    global _phase
    if _phase is not None and _phase != CLOSING:
        _phase = phase


def initialising():
    """Call right before rclpy.init, whose handlers chain to this one: signals are noted."""
    _enter(NOTING)


def building():
    """Call before building the node: the first signal, even one noted, stops it at once."""
    _enter(BUILDING)
    if _phase == BUILDING and _signalled:
        _raise_once()


def spinning():
    """Call before spinning: signals are noted; rclpy's handler stops the spin."""
    _enter(NOTING)


def interrupted():
    """True once SIGINT or SIGTERM came after start-up."""
    return _signalled


def closing():
    """Call in the main thread before the node's clean-up: further signals are ignored."""
    global _phase
    if _phase is None:
        return
    _phase = CLOSING
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def leave(status):
    """Flush the output and end the process at once, skipping interpreter teardown."""
    closing()
    _leave(status)


def _run(module, tensorflow=False):
    install()
    if tensorflow and _phase is not None:  # not where the guard could not be installed
        _flush()
        tensorflow_notes.hide(SIGNALS)
    main = importlib.import_module(f'{__package__}.{module}').main
    try:
        return main()
    except KeyboardInterrupt:
        # Raised while building the node, and escaped main's own handling of it.
        closing()
        return 0


def segmentation_node():
    """Console script segmentation_node."""
    return _run('segmentation_node', tensorflow=True)


def segmentation_lifecycle_node():
    """Console script segmentation_lifecycle_node."""
    return _run('segmentation_lifecycle_node', tensorflow=True)


def webcam_publisher():
    """Console script webcam_publisher."""
    return _run('webcam_publisher')


def folder_player():
    """Console script folder_player."""
    return _run('folder_player')
