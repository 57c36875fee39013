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

The console scripts of the nodes that run TensorFlow also keep its native start-up notes out of
their output. TensorFlow writes them to file descriptor 2 through absl, which
TF_CPP_MIN_LOG_LEVEL does not filter before absl is initialised: ``I0000 ... port.cc:153]
oneDNN custom operations are on ...``, and on CPUs without AVX-512 ``E0000 ... oneDNN supports
DT_BOOL only on platforms with AVX-512 ...``, which reads like an error and is not one. A child
process, forked before TensorFlow is imported, passes everything else through, line by line;
it ends when the node's last copy of file descriptor 2 closes, after the node has written its
last line, so nothing is lost however the node ends. TF_CPP_MIN_LOG_LEVEL, when the user sets
it, sets what is hidden, on TensorFlow's scale: 0 shows everything (no child process), 1 hides
the notes (INFO), 2, the default, warnings and the AVX-512 note too, 3 errors as well.
"""

import importlib
import os
import re
import signal
import sys
import threading

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


TENSORFLOW_LOG_LEVEL = 'TF_CPP_MIN_LOG_LEVEL'
DEFAULT_TENSORFLOW_LOG_LEVEL = 2
ABSL_BANNER = (b'WARNING: All log messages before absl::InitializeLog() is called are written '
               b'to STDERR')
# Severity, date, time (00:00:<epoch seconds> before absl is initialised), thread, file:line.
ABSL_LINE = re.compile(rb'([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] (.*)')
SEVERITIES = {b'I': 0, b'W': 1, b'E': 2, b'F': 3}  # TF_CPP_MIN_LOG_LEVEL's scale
NOTES_LOGGED_AS_ERRORS = (b'oneDNN supports DT_BOOL only on platforms with AVX-512',)


def tensorflow_log_level(environ=os.environ) -> int:
    """The TensorFlow log lines to hide: those below this severity (0: none)."""
    text = environ.get(TENSORFLOW_LOG_LEVEL, '').strip()
    if not text:
        return DEFAULT_TENSORFLOW_LOG_LEVEL
    return int(text) if text.isdigit() else 0


def is_hidden(line: bytes, level: int) -> bool:
    """Whether `line` is a TensorFlow (absl) log line below `level`."""
    if line.rstrip(b'\r') == ABSL_BANNER:
        return SEVERITIES[b'W'] < level
    match = ABSL_LINE.match(line)
    if match is None:
        return False
    severity = SEVERITIES[match[1]]
    if severity == SEVERITIES[b'E'] and any(note in match[2] for note in NOTES_LOGGED_AS_ERRORS):
        severity = SEVERITIES[b'W']
    return severity < level


def _hide_tensorflow_notes():
    """Pass file descriptor 2 through a child process that drops TensorFlow's notes."""
    level = tensorflow_log_level()
    if level <= 0 or _phase is None:  # all shown, or not the main thread: not ours to change
        return
    _flush()
    was_tty = os.isatty(2)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # none reaches the child
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:  # out of processes or file descriptors: the notes stay
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return
    if pid == 0:
        try:
            for signum in SIGNALS:  # Ctrl+C reaches the whole process group: it stays to drain
                signal.signal(signum, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            os.chdir('/')
            os.dup2(read_end, 0)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.closerange(3, os.sysconf('SC_OPEN_MAX'))
            _pass_lines(0, 2, level)
        finally:
            os._exit(0)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    if was_tty:  # rcutils colours its lines on a terminal, which fd 2 no longer is
        os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '1')


def _pass_lines(source, target, level):
    """Copy whole lines from `source` to `target` until the end, but for the hidden ones."""
    pending = b''
    writable = True
    while True:
        chunk = os.read(source, 65536)
        if chunk:
            *lines, pending = (pending + chunk).split(b'\n')
            kept = b''.join(line + b'\n' for line in lines if not is_hidden(line, level))
        else:  # the end: what is left of a last line without its newline
            kept, pending = (b'' if is_hidden(pending, level) else pending), b''
        while kept and writable:
            try:
                kept = kept[os.write(target, kept):]
            except OSError:  # the reader has gone: keep reading, so the node never blocks
                writable = False
        if not chunk:
            return


def _run(module, tensorflow=False):
    install()
    if tensorflow:
        _hide_tensorflow_notes()
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
