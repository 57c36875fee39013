"""What the helper nodes share: parameter descriptors, fatal errors and the main() loop."""

from __future__ import annotations

import os
import sys
from functools import partial
from importlib import resources

import cv2
import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException


class FatalError(Exception):
    """A problem that makes the node unusable: main() logs it as one line and exits 1."""

    def __init__(self, message, logger=None):
        super().__init__(message)
        self.logger = logger


def descriptor(description, read_only=False, integer=None, floating=None):
    """A ParameterDescriptor with an optional (low, high) integer or floating point range."""
    result = ParameterDescriptor(description=description, read_only=read_only)
    if integer is not None:
        result.integer_range = [IntegerRange(from_value=integer[0], to_value=integer[1], step=1)]
    if floating is not None:
        result.floating_point_range = [
            FloatingPointRange(from_value=floating[0], to_value=floating[1], step=0.0)]
    return result


def fatal_start_error(node, exc):
    """Destroy a half-built node and turn `exc` into the FatalError that main() reports."""
    logger = node.get_logger()
    node.destroy_node()
    return FatalError(parameter_error_text(exc), logger)


def parameter_error_text(exc):
    """One readable line for a parameter error, with a hint for the common int/double slip."""
    text = str(exc)
    if not isinstance(exc, ParameterException):
        return text
    message, _, name = text.rpartition(': ')
    message = message.split('Reason: ', 1)[-1]
    text = f"parameter '{name}': {message}"
    if "expecting type 'DOUBLE'" in message:
        text += f' (write doubles with a decimal point, e.g. {name}:=5.0)'
    return text


DDS_PROFILE_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'


def use_large_frame_dds_profile():
    """Give Fast DDS a shared-memory segment that holds camera frames, unless told otherwise.

    Fast DDS's default 512 KiB segment loses most best-effort 1280x720 frames and delays
    reliable ones (benchmarks/README.md). The packaged profile is used only when the user
    set no profile of their own and the middleware is Fast DDS; call before rclpy.init.
    """
    if os.environ.get(DDS_PROFILE_VARIABLE) or os.environ.get(
            'RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp') != 'rmw_fastrtps_cpp':
        return
    profile = resources.files(__package__).joinpath('data', 'fastdds_large_frames.xml')
    os.environ[DDS_PROFILE_VARIABLE] = str(profile)


def quiet_opencv():
    """Silence OpenCV's own open/read warnings: the nodes report those errors themselves."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass


def shut_down(close=None):
    """Run a node's clean-up, then rclpy's shutdown; a second Ctrl+C meanwhile cuts it short.

    Users press Ctrl+C twice; without this the second one ends the process with a traceback
    and a signal status in place of the clean exit it asked for.
    """
    try:
        try:
            if close is not None:
                close()
        finally:
            rclpy.try_shutdown()
    except KeyboardInterrupt:
        pass


def run_until_done(name, node_factory, args=None):
    """Spin a node until its `done` future holds an exit status, a fatal error or a signal.

    The node has a `done` rclpy Future and a `close(interrupted)` method. Exit status: the
    future's result, 1 for a FatalError (logged as one line), 0 for Ctrl+C or SIGTERM.
    """
    use_large_frame_dds_profile()
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - rcl's RCLError for malformed --ros-args
        rclpy.logging.get_logger(name).error(f'cannot start: {exc}')
        sys.exit(1)
    quiet_opencv()
    node = None
    status = 0
    interrupted = False
    try:
        node = node_factory()
        rclpy.spin_until_future_complete(node, node.done)
        if node.done.done():
            status = node.done.result()
        else:
            interrupted = True  # SIGTERM: rclpy shut the context down and spin returned
    except FatalError as exc:
        (exc.logger or rclpy.logging.get_logger(name)).error(str(exc))
        status = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        interrupted = True
    except Exception:
        if rclpy.ok():
            raise
        # A signal shut the context down while the executor was building its wait set.
        interrupted = True
    finally:
        shut_down(None if node is None else partial(node.close, interrupted=interrupted))
    if status:
        sys.exit(status)
