"""TensorFlow's native start-up notes kept out of the nodes' output.

The console scripts of the nodes that run TensorFlow call `hide` (through exit_guard). TensorFlow
writes them to file descriptor 2 through absl, which
TF_CPP_MIN_LOG_LEVEL does not filter before absl is initialised: ``I0000 ... port.cc:153]
oneDNN custom operations are on ...``, and on CPUs without AVX-512 ``E0000 ... oneDNN supports
DT_BOOL only on platforms with AVX-512 ...``, which reads like an error and is not one. A child
process, forked before TensorFlow is imported, passes everything else through, line by line;
it ends when the node's last copy of file descriptor 2 closes, after the node has written its
last line, so nothing is lost however the node ends. TF_CPP_MIN_LOG_LEVEL, when the user sets
it, sets what is hidden, on TensorFlow's scale: 0 shows everything (no child process), 1 hides
the notes (INFO), 2, the default, warnings and the AVX-512 note too, 3 errors as well.

Standard library only: it runs before anything else is imported.
"""

import os
import re
import signal

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


def hide(signals):
    """Pass file descriptor 2 through a child process that drops TensorFlow's notes.

    Call from the main thread, with the output flushed, before TensorFlow is imported;
    `signals` are kept from the child, which drains the pipe to its end.
    """
    level = tensorflow_log_level()
    if level <= 0:  # the user asked for everything
        return
    was_tty = os.isatty(2)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # none reaches the child
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:  # out of processes or file descriptors: the notes stay
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return
    if pid == 0:
        try:
            for signum in signals:  # Ctrl+C reaches the whole process group: it stays to drain
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
