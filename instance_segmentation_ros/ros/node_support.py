"""What the nodes share: fatal errors, the Fast DDS profile, the finite-run base and run_node."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import RcutilsLogger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions, install_signal_handlers
from rclpy.task import Future

from .. import data_file
from ..core.video_source import quiet_opencv
from ..errors import InstanceSegmentationError
from . import exit_guard
from .parameters import parameter_error_text, ros_arguments_error_text


class FatalError(InstanceSegmentationError):
    """A problem that makes the node unusable: main() logs it as one line and exits 1."""

    def __init__(self, message: str, logger: RcutilsLogger | None = None):
        super().__init__(message)
        self.logger = logger


DDS_PROFILE_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'


def use_large_frame_dds_profile() -> None:
    """Give Fast DDS a shared-memory segment that holds camera frames, unless told otherwise.

    Fast DDS's default 512 KiB segment loses most best-effort 1280x720 frames and delays
    reliable ones (benchmarks/README.md). The packaged profile is used only when the user
    set no profile of their own and the middleware is Fast DDS; call before rclpy.init.
    """
    if os.environ.get(DDS_PROFILE_VARIABLE) or os.environ.get(
            'RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp') != 'rmw_fastrtps_cpp':
        return
    profile = data_file('fastdds_large_frames.xml')
    os.environ[DDS_PROFILE_VARIABLE] = str(profile)


def shut_down(close: Callable[[], None] | None = None) -> None:
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
            except RuntimeError:  # rclpy's RCLError
                # rclpy's signal thread shut the context down in the meantime: done, then.
                if rclpy.ok():
                    raise
    except KeyboardInterrupt:  # only where no exit guard could be installed
        pass


SIGNAL_CHECK_S = 0.25  # s between looks for a signal while spinning


def init_rclpy(args: list[str] | None = None) -> SingleThreadedExecutor:
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


def spin_until_stopped(executor: SingleThreadedExecutor, node: Node,
                       future: Future | None = None) -> bool:
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


class FiniteRunNode(Node):
    """A node that ends by itself: run_node spins it until `done` holds its exit status.

    A subclass declares and reads its parameters in configure() (a FatalError or a rejected
    parameter there is the one-line start error), stops its own threads in stop() and says
    what it did in summary(), which a Ctrl+C or SIGTERM logs too.
    """

    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        try:
            self.configure()
        except (ParameterException, FatalError) as exc:
            logger = self.get_logger()
            self.destroy_node()  # half-built, but its parameters are declared
            raise FatalError(parameter_error_text(exc), logger) from None
        self.done = Future()
        self.started = time.monotonic()  # for summary(); a subclass may restart it later

    def configure(self) -> None:
        """Declare the parameters and read them; raise FatalError for unusable values."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line saying what the run did, for its end or an interruption."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the node's own threads before it is destroyed; none by default."""

    def close(self, interrupted: bool = False) -> None:
        """Stop, destroy the node, and say what was done when a signal cut the run short."""
        logger = self.get_logger()
        self.stop()
        summary = self.summary()
        self.destroy_node()
        if interrupted:
            # After destroy_node, so that the line is not sent to a shut-down /rosout.
            logger.info(f'interrupted: {summary}')


def run_node(name: str, node_factory: Callable[[], Node],
             args: list[str] | None = None) -> int:
    """Run a node from rclpy.init to shutdown and return the process's exit status.

    A node with a `done` future (a FiniteRunNode; a lifecycle node, set by its shutdown
    transition) spins until that holds the status, any other node until a signal. 1 for a
    FatalError while starting (logged as one line, malformed --ros-args included), 0 for
    Ctrl+C or SIGTERM at any moment (exit_guard).
    """
    exit_guard.install()
    use_large_frame_dds_profile()
    node = None
    status = 0
    interrupted = False
    try:
        try:
            executor = init_rclpy(args)
        except RuntimeError as exc:  # the public base of rclpy's RCLError, UnknownROSArgsError
            raise FatalError(ros_arguments_error_text(exc)) from None
        quiet_opencv()
        exit_guard.building()
        node = node_factory()
        done = getattr(node, 'done', None)
        interrupted = spin_until_stopped(executor, node, done)
        if done is not None and not interrupted:
            status = done.result()
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
        if isinstance(node, FiniteRunNode):
            shut_down(partial(node.close, interrupted=interrupted))
        else:
            shut_down(None if node is None else node.destroy_node)
    return status
