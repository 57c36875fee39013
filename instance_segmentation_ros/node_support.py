"""What the helper nodes share: parameter descriptors, fatal errors and the main() loop."""

from __future__ import annotations

import os
import re
import sys
from functools import partial
from importlib import resources

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy._rclpy_pybind11 import RCLError
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions, install_signal_handlers

from instance_segmentation_ros import exit_guard
from instance_segmentation_ros.video_source import quiet_opencv


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


def ros_arguments_error_text(exc):
    """One line for --ros-args that rcl refused, with the quoting hint a glob like *.gif needs."""
    text = f'invalid ROS arguments: {str(exc).strip().splitlines()[0]}'
    if 'parameter override rule' in text:
        text += (' (values are YAML: quote one that starts with *, & or !, as in '
                 '-p "pattern:=\'*.gif\'")')
    return text


def parameter_error_text(exc):
    """One readable line for a parameter error, with a hint for the common int/double slip."""
    text = str(exc)
    if not isinstance(exc, ParameterException):
        return text
    message, _, name = text.rpartition(': ')
    message = message.split('Reason: ', 1)[-1]
    text = f"parameter '{name}': {message}"
    given = re.search(r"to '(-?\d+)' of type 'INTEGER', expecting type 'DOUBLE'", message)
    if given:  # the value as the user meant it, e.g. score_threshold:=1 -> 1.0
        text += f' (write doubles with a decimal point: {name}:={given.group(1)}.0)'
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


def shut_down(close=None):
    """Run a node's clean-up, then rclpy's shutdown, deaf to further signals until the exit.

    Users press Ctrl+C twice, and `ros2 launch` sends SIGINT to a node that is already ending;
    neither may turn the clean exit into a traceback or a signal status (exit_guard).
    """
    exit_guard.closing()
    try:
        try:
            if close is not None:
                close()
        finally:
            try:
                rclpy.try_shutdown()
            except RCLError:
                # rclpy's signal thread shut the context down in the meantime: done, then.
                if rclpy.ok():
                    raise
    except KeyboardInterrupt:  # only where no exit guard could be installed
        pass


SIGNAL_CHECK_S = 0.25  # s between looks for a signal while spinning


def init_rclpy(args=None):
    """rclpy.init, then the executor, then rclpy's signal handlers; returns the executor.

    rclpy's handler shuts the context down from a thread of its own, at any moment: an
    executor being made meanwhile fails half-built, and its finalizer prints a traceback. So
    it is made first, while exit_guard alone notes a signal (exit_guard.building raises it).
    """
    exit_guard.initialising()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor()
    install_signal_handlers(SignalHandlerOptions.ALL)
    return executor


def spin_until_stopped(executor, node, future=None):
    """Spin `node` until `future` is done or a signal stops it; True when stopped by a signal.

    On SIGINT or SIGTERM rclpy's handler wakes the executor and shuts the context down from a
    thread of its own: the executor can look before the shutdown is done and go back to
    waiting, so the spin also looks at exit_guard's note of the signal, every SIGNAL_CHECK_S.
    """
    exit_guard.spinning()
    executor.add_node(node)
    try:
        while future is None or not future.done():
            if exit_guard.interrupted() or not rclpy.ok():
                return True
            executor.spin_once(timeout_sec=SIGNAL_CHECK_S)
    except ExternalShutdownException:
        return True
    finally:
        executor.remove_node(node)
    return False


def run_until_done(name, node_factory, args=None):
    """Spin a node until its `done` future holds an exit status, a fatal error or a signal.

    The node has a `done` rclpy Future and a `close(interrupted)` method. Exit status: the
    future's result, 1 for a FatalError (logged as one line), 0 for Ctrl+C or SIGTERM at any
    moment (exit_guard).
    """
    exit_guard.install()
    use_large_frame_dds_profile()
    node = None
    status = 0
    interrupted = False
    try:
        try:
            executor = init_rclpy(args)
        except Exception as exc:  # noqa: BLE001 - rcl's RCLError for malformed --ros-args
            raise FatalError(ros_arguments_error_text(exc)) from None
        quiet_opencv()
        exit_guard.building()
        node = node_factory()
        interrupted = spin_until_stopped(executor, node, node.done)
        if not interrupted:
            status = node.done.result()
    except FatalError as exc:
        (exc.logger or rclpy.logging.get_logger(name)).error(str(exc))
        status = 1
    except KeyboardInterrupt:
        interrupted = True
    except Exception:
        if rclpy.ok():
            raise
        # A signal shut the context down while the node was being built.
        interrupted = True
    finally:
        shut_down(None if node is None else partial(node.close, interrupted=interrupted))
    if status:
        sys.exit(status)
