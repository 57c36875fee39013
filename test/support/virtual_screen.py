"""A real X server (Debian's Xvfb) for tests of what a person sees in windows.

Xvfb keeps its screen in an XWD file (``-fbdir``), read here as a screenshot; window titles and
geometry come from ``xwininfo`` (x11-utils) and keys are typed with ``xdotool``, so the program
under test gets real X events through its own GUI toolkit.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

TOOLS = ('Xvfb', 'xwininfo', 'xdotool')
SCREEN = (1600, 1200)
MISSING_TOOLS = [tool for tool in TOOLS if shutil.which(tool) is None]
SKIP_REASON = (f'no {", ".join(MISSING_TOOLS)} (Debian packages xvfb, x11-utils, xdotool)'
               if MISSING_TOOLS else '')
# xwininfo -tree: `0x200015 "original": ("!toplevel" "Toplevel")  320x240+0+0  +0+0`
WINDOW_LINE = re.compile(r'^\s*(?P<id>0x[0-9a-f]+) "(?P<title>[^"]*)":.*?\s(?P<w>\d+)x(?P<h>\d+)'
                         r'[+-]\d+[+-]\d+\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)\s*$')


class Window(NamedTuple):
    id: str
    x: int
    y: int
    width: int
    height: int


class VirtualScreen:
    """An Xvfb server on a display number it chooses itself, with its screen as a file."""

    def __init__(self, folder: Path):
        self.folder = folder
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            ['Xvfb', '-displayfd', str(write_end), '-screen', '0',
             f'{SCREEN[0]}x{SCREEN[1]}x24', '-fbdir', str(folder), '-nolisten', 'tcp'],
            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()
        if not number:
            self.process.kill()
            raise RuntimeError('Xvfb did not start')
        self.display = f':{number}'

    def env(self) -> dict:
        """The environment of a program that should open its windows on this screen."""
        env = dict(os.environ, DISPLAY=self.display)
        env.pop('WAYLAND_DISPLAY', None)
        return env

    def windows(self) -> dict[str, Window]:
        """Mapped, titled windows by title, with their place on the screen."""
        listing = subprocess.run(['xwininfo', '-root', '-tree'], env=self.env(),
                                 capture_output=True, text=True, check=True).stdout
        found = {}
        for line in listing.splitlines():
            match = WINDOW_LINE.match(line)
            if match and match['title'] and int(match['w']) > 8:
                found[match['title']] = Window(match['id'], *(int(match[k]) for k in 'xywh'))
        return found

    def wait_for_windows(self, titles, process, timeout: float = 120.0):
        """Each titled window once all are shown; fails if `process` ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.windows()
            if all(title in shown for title in titles):
                return {title: shown[title] for title in titles}
            if process.poll() is not None:
                raise AssertionError(f'the program ended ({process.returncode}) before '
                                     f'showing {titles}: {process.communicate()}')
            time.sleep(0.2)
        raise AssertionError(f'no windows {titles} within {timeout} s; shown: {shown}')

    def screenshot(self) -> np.ndarray:
        """The whole screen as a BGR image, read from Xvfb's XWD frame buffer file."""
        data = (self.folder / 'Xvfb_screen0').read_bytes()
        fields = struct.unpack('>25I', data[:100])
        header_size, width, height = fields[0], fields[4], fields[5]
        bits_per_pixel, bytes_per_line, colours = fields[11], fields[12], fields[19]
        assert bits_per_pixel == 32, f'expected a 32-bit frame buffer, not {bits_per_pixel}'
        start = header_size + 12 * colours
        pixels = np.frombuffer(data, np.uint8, bytes_per_line * height, start)
        return pixels.reshape(height, bytes_per_line // 4, 4)[:, :width, :3].copy()

    def window_image(self, window: Window) -> np.ndarray:
        """What the screen shows inside `window`."""
        return self.screenshot()[window.y:window.y + window.height,
                                 window.x:window.x + window.width]

    def press(self, window: Window, key: str):
        """Focus `window` and type `key` into it, as a person would."""
        subprocess.run(['xdotool', 'windowfocus', '--sync', window.id, 'key', key],
                       env=self.env(), check=True, timeout=30)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
