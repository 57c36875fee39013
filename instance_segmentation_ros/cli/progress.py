"""Progress on stderr: a tqdm bar on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    """A tqdm bar (rate and ETA) on a terminal, one log line per file otherwise.

    The rate counts the images segmented: a skipped file takes no time, and counted it would
    show thousands of images a second. The bar counts segmented images out of the files not
    skipped; the log lines number every file, and those of segmented images give the rate.
    """

    def __init__(self, total: int, stream=None):
        self.total = total
        self.count = 0  # files done, segmented or skipped
        self.segmented = 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.bar = None
        if is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit='img', file=self.stream, dynamic_ncols=True)

    def step(self, name: str, text: str):
        """One image segmented: `name` and what came of it."""
        self.count += 1
        self.segmented += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f'{name}: {text}', refresh=False)
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.started
        rate = self.segmented / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        print(f'[{self.count}/{self.total}] {name}: {text} ({rate:.2f} img/s, ETA '
              f'{eta:.0f} s)', file=self.stream, flush=True)

    def skip(self, name: str, text: str):
        """One file passed over (`text` says why): no image for the rate."""
        self.count += 1
        if self.bar is not None:
            self.bar.total -= 1
            self.bar.set_postfix_str(f'{name}: {text}', refresh=False)
            self.bar.refresh()
            return
        print(f'[{self.count}/{self.total}] {name}: {text}', file=self.stream, flush=True)

    def close(self):
        """End the bar, so that what follows starts on a line of its own."""
        if self.bar is not None:
            self.bar.close()


def is_terminal(stream) -> bool:
    """Whether `stream` is a terminal; False for streams without isatty, or closed."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ByteProgress:
    """Download progress: a tqdm bar on a terminal, a line per 10 % (or 10 MB) otherwise.

    `next_step` is the next percentage (or byte count when the size is unknown) to report.
    """

    def __init__(self, name: str, stream=None):
        self.name = name
        self.stream = stream or sys.stderr
        self.tty = is_terminal(self.stream)
        self.bar = None
        self.next_step = 0
        self.last = 0

    def update(self, done: int, total: int | None):
        """`done` of `total` bytes (None: size unknown) downloaded."""
        if done < self.last:  # the download restarted from the beginning
            self.next_step = 0
        self.last = done
        if self.tty:
            if self.bar is None or self.bar.total != total:
                self._new_bar(done, total)
            self.bar.update(done - self.bar.n)
            return
        if total:
            percent = done * 100 // total
            if percent < self.next_step:
                return
            print(f'{self.name}: {percent:3d}% of {total / 1e6:.1f} MB', file=self.stream,
                  flush=True)
            self.next_step = (percent // 10 + 1) * 10
        elif done >= self.next_step:
            print(f'{self.name}: {done / 1e6:.1f} MB', file=self.stream, flush=True)
            self.next_step = done + 10_000_000

    def _new_bar(self, done: int, total: int | None):
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(total=total, initial=done, unit='B', unit_scale=True,
                        unit_divisor=1024, desc=self.name, file=self.stream,
                        dynamic_ncols=True)

    def log(self, message: str):
        """A message about the download, printed without breaking the bar."""
        if self.bar is not None:
            self.bar.write(f'{self.name}: {message}', file=self.stream)
        else:
            print(f'{self.name}: {message}', file=self.stream, flush=True)

    def close(self):
        """End the bar, so that what follows starts on a line of its own."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
