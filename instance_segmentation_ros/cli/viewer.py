"""Desktop windows for the CLI: OpenCV's HighGUI where this OpenCV has one, else Tk.

The package installs ``opencv-python-headless`` so that servers and CI need no X libraries, and
that build has no GUI. Installing ``opencv-python`` beside it would put two wheels into one
``cv2/`` folder (uninstalling either later removes ``cv2``), so instead the same windows are
drawn with Python's own tkinter. A ROS install's OpenCV (Ubuntu's ``python3-opencv``) has a GUI
and is used directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from abc import ABC, abstractmethod

import cv2
import numpy as np

from ..errors import InstanceSegmentationError

MAX_WINDOW_SIZE = (960, 720)
"""Largest window content (width, height): bigger images are shown scaled down to fit."""
CLOSED = 'closed'
"""What `Viewer.poll` returns when the user closed one of the windows."""
ESCAPE = 'Escape'


class ViewerError(InstanceSegmentationError):
    """No window can be opened; the text says what to install or set."""


def opencv_has_gui() -> bool:
    """True when this OpenCV build has a window backend (GTK, Qt, Win32 or Cocoa)."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(':')
        if name == 'GUI':
            return value.strip().upper() != 'NONE'
    return False


def fit_for_display(image: np.ndarray, max_size=MAX_WINDOW_SIZE) -> np.ndarray:
    """`image` scaled down (never up) to fit `max_size`, keeping its aspect ratio."""
    height, width = image.shape[:2]
    scale = min(max_size[0] / width, max_size[1] / height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def require_display():
    """ViewerError unless this session names a display (X11 or Wayland on Linux)."""
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                 or os.environ.get('WAYLAND_DISPLAY')):
        raise ViewerError('no display available (DISPLAY and WAYLAND_DISPLAY are unset): run '
                          'it on a desktop session or with ssh -X')


def open_viewer() -> Viewer:
    """A viewer on this desktop, or ViewerError saying why none can open."""
    require_display()
    if opencv_has_gui():
        _check_x_display()
        return OpenCVViewer()
    return TkViewer()


def _check_x_display():
    """ViewerError when DISPLAY names an X server that cannot be reached.

    Qt (the GUI of pip's opencv-python) aborts the whole process when it cannot connect, so the
    connection is tried first with Xlib where there is one.
    """
    display = os.environ.get('DISPLAY')
    library = ctypes.util.find_library('X11') if display else None
    if library is None:
        return
    xlib = ctypes.CDLL(library)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = xlib.XOpenDisplay(display.encode())
    if not connection:
        raise ViewerError(f'cannot open a window: no X server answers on display {display}')
    xlib.XCloseDisplay(connection)


class Viewer(ABC):
    """Named windows showing BGR images, placed left to right in the order first shown."""

    def __init__(self):
        self._positions: dict[str, tuple[int, int]] = {}
        self._next_x = 0

    def show(self, title: str, bgr: np.ndarray):
        """Show `bgr` (scaled to fit the screen) in the window `title`, opening it if new."""
        image = fit_for_display(bgr)
        if title not in self._positions:
            self._positions[title] = (self._next_x, 0)
            self._next_x += image.shape[1] + 10
            self._open(title, *self._positions[title])
        self._draw(title, image)

    @abstractmethod
    def poll(self, wait_ms: int) -> str | None:
        """Wait up to `wait_ms` for the user: a key as text, ESCAPE, CLOSED, or None."""

    @abstractmethod
    def close(self):
        """Close every window."""

    @abstractmethod
    def _open(self, title: str, x: int, y: int):
        """Create the window `title` with its top-left corner at (x, y)."""

    @abstractmethod
    def _draw(self, title: str, image: np.ndarray):
        """Show `image`, already fitted to the screen, in the window `title`."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class OpenCVViewer(Viewer):
    """HighGUI windows, sized to their image, without Qt's toolbar."""

    backend = 'opencv'

    def _open(self, title, x, y):
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        cv2.moveWindow(title, x, y)

    def _draw(self, title, image):
        cv2.imshow(title, image)

    def poll(self, wait_ms):
        """HighGUI's next key, or CLOSED once a window is no longer visible."""
        key = cv2.waitKey(max(1, wait_ms))
        if key != -1:
            key &= 0xFF
            return ESCAPE if key == 27 else chr(key)
        for title in self._positions:
            try:
                if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                    return CLOSED
            except cv2.error:
                return CLOSED
        return None

    def close(self):
        """Destroy the windows and let HighGUI process that before the program goes on."""
        try:
            cv2.destroyAllWindows()
            cv2.waitKey(1)
        except cv2.error:
            pass


class TkViewer(Viewer):
    """tkinter windows for an OpenCV without GUI; images reach Tk as binary PPM."""

    backend = 'tk'

    def __init__(self):
        super().__init__()
        try:
            import tkinter
        except ImportError:
            raise ViewerError(
                'no window can open: this OpenCV has no GUI (opencv-python-headless) and this '
                'Python has no tkinter; install python3-tk (Debian, Ubuntu) or tk '
                '(Fedora, Arch)') from None
        self._tk = tkinter
        try:
            self._root = tkinter.Tk()
        except tkinter.TclError as error:
            raise ViewerError(f'cannot open a window: {error}') from None
        self._root.withdraw()
        self._windows = {}
        self._events: list[str] = []

    def _open(self, title, x, y):
        window = self._tk.Toplevel(self._root)
        window.title(title)
        window.geometry(f'+{x}+{y}')
        window.resizable(False, False)
        label = self._tk.Label(window, borderwidth=0, highlightthickness=0)
        label.pack()
        window.protocol('WM_DELETE_WINDOW', lambda: self._events.append(CLOSED))
        window.bind('<KeyPress>', self._on_key)
        self._windows[title] = label

    def _on_key(self, event):
        if event.keysym == ESCAPE:
            self._events.append(ESCAPE)
        elif event.char:
            self._events.append(event.char)

    def _draw(self, title, image):
        height, width = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        ppm = b'P6 %d %d 255\n' % (width, height) + rgb.tobytes()
        label = self._windows[title]
        label.image = self._tk.PhotoImage(master=self._root, data=ppm, format='PPM')
        label.configure(image=label.image)

    def poll(self, wait_ms):
        """Run Tk's event loop until a key or a close arrives, or `wait_ms` have passed."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            try:
                self._root.update()
            except self._tk.TclError:  # the whole application was destroyed
                return CLOSED
            if self._events:
                return self._events.pop(0)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def close(self):
        """Destroy the hidden root window and with it every window."""
        try:
            self._root.destroy()
        except self._tk.TclError:
            pass
