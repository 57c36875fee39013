"""video_source: what `device` means, and VideoFrames' rules, for the node and the CLI alike.

VideoFrames runs on real video files written here, or on a scripted capture (a camera that is
unplugged at a known frame), with a fake clock: backoffs and pacing are read off the waits it
asks for instead of being slept.
"""

import threading
import time

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.video_source import (
    BACKOFF_MAX_S,
    FALLBACK_FPS,
    LOST_AFTER_S,
    OpenError,
    SourceError,
    SourceLostError,
    VideoFrames,
    is_live,
    open_capture,
    parse_device,
    video_devices,
)

CAMERA = '/dev/video7'  # a camera by its name; the scripted opener never looks at the device
BGR = (0, 100, 200)


@pytest.mark.parametrize('device,expected', [
    ('0', ('camera', 0)),
    (' 2 ', ('camera', 2)),
    ('/dev/video1', ('camera', '/dev/video1')),
    ('file:///tmp/a.mp4', ('file', '/tmp/a.mp4')),
    ('clip.avi', ('file', 'clip.avi')),
    ('rtsp://cam.local/stream', ('stream', 'rtsp://cam.local/stream')),
])
def test_parse_device(device, expected):
    assert parse_device(device) == expected


def write_video(path, frames=2, fps=5.0, size=(32, 24)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), (10 * k, *BGR[1:]), np.uint8))
    writer.release()
    return path


def test_a_file_ends_and_a_camera_is_live(tmp_path):
    path = write_video(tmp_path / 'clip.avi', frames=2)
    capture = open_capture(*parse_device(str(path)))
    try:
        assert not is_live('file', capture)
        assert is_live('camera', capture)
        assert [capture.read()[0] for _ in range(3)] == [True, True, False]
    finally:
        capture.release()


@pytest.mark.parametrize('device,reason', [
    ('missing.mp4', 'No such file or directory'),
    ('/dev/no_such_camera', 'no such device'),
    ('notes.txt', 'OpenCV could not open it'),
])
def test_sources_that_cannot_open_say_why(device, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'notes.txt').write_text('not a video')
    with pytest.raises(SourceError, match=reason):
        open_capture(*parse_device(device))
    with pytest.raises(OpenError, match=f"cannot open device '{device}': {reason}") as error:
        VideoFrames(device).open()
    assert error.value.reason.startswith(reason) and 'video devices: ' in str(error.value)


# -- the fakes ---------------------------------------------------------------------------------

class FakeClock:
    """Time that passes only when VideoFrames waits (or a scripted read takes its time)."""

    def __init__(self):
        self.time = 1000.0
        self.waits = []

    def now(self):
        return self.time

    def wait(self, seconds, stop):
        self.waits.append(round(seconds, 6))
        self.time += seconds


def frame(width=160, height=120, value=BGR):
    return np.full((height, width, 3), value, np.uint8)


class ScriptedCapture:
    """Stands in for an opened cv2.VideoCapture: read() plays `reads`, then fails.

    Each read takes `read_s` of the fake clock (a camera's frame interval); `fps` is the rate
    it states, `count` its frame count (0: a live source).
    """

    def __init__(self, clock, reads, read_s=0.01, fps=0.0, count=0, size=(160, 120)):
        self.clock, self.reads, self.read_s = clock, list(reads), read_s
        self.properties = {cv2.CAP_PROP_FPS: fps, cv2.CAP_PROP_FRAME_COUNT: count,
                           cv2.CAP_PROP_FRAME_WIDTH: size[0], cv2.CAP_PROP_FRAME_HEIGHT: size[1]}
        self.released = False

    def get(self, prop):
        return self.properties.get(prop, 0.0)

    def getBackendName(self):  # noqa: N802 - the OpenCV name
        return 'SCRIPTED'

    def read(self):
        self.clock.time += self.read_s
        return self.reads.pop(0) if self.reads else (False, None)

    def release(self):
        self.released = True


class ScriptedOpener:
    """open_capture's stand-in: each opening takes the next entry, None = cannot be opened."""

    def __init__(self, *entries):
        self.entries = list(entries)
        self.openings = 0

    def __call__(self, kind, target, width, height, fps):
        self.openings += 1
        entry = self.entries.pop(0) if self.entries else None
        if entry is None:
            raise SourceError('no such device')
        return entry


def good(count, **kwargs):
    return [(True, frame(**kwargs))] * count


def scripted(device, clock, *entries, **options):
    events = []
    frames = VideoFrames(device, clock=clock, open_source=ScriptedOpener(*entries),
                         report=events.append, **options)
    return frames, events


def take(frames, count):
    """Up to `count` frames, fewer when next() returns None."""
    taken = []
    while len(taken) < count:
        image = frames.next()
        if image is None:
            break
        taken.append(image)
    return taken


def lines(events, level=None, kind=None):
    return [event.text for event in events
            if (level is None or event.level == level) and (kind is None or event.kind == kind)]


# -- files -------------------------------------------------------------------------------------

def test_a_file_plays_at_its_own_rate_then_ends(tmp_path):
    clock = FakeClock()
    events = []
    video = write_video(tmp_path / 'clip.avi', frames=4, fps=5.0)
    frames = VideoFrames(str(video), clock=clock, report=events.append)
    taken = take(frames, 10)
    assert len(taken) == 4 and frames.ended and not frames.live
    assert all(image.shape == (24, 32, 3) and image.dtype == np.uint8 for image in taken)
    assert clock.waits == [0.0, 0.2, 0.2, 0.2]
    assert frames.next() is None and frames.next() is None  # the end stays the end
    opened = lines(events, 'info', 'opened')
    assert len(opened) == 1 and opened[0].startswith(f"opened '{video}' (")
    assert opened[0].endswith(', 32x24)')
    assert lines(events, kind='ended') == [f"end of '{video}'"]
    assert lines(events, 'warning') == []


def test_a_file_s_rate_is_an_upper_bound_when_its_caller_is_late(tmp_path):
    """A frame asked for late comes at once, the next a full period later: no burst.

    The caller was waiting for its consumer, or for a result.
    """
    clock = FakeClock()
    video = write_video(tmp_path / 'clip.avi', frames=5, fps=5.0)
    frames = VideoFrames(str(video), clock=clock)
    assert frames.ensure_open() and frames.live is False
    clock.time += 10.0  # e.g. waiting for the consumer before the first frame
    take(frames, 2)
    clock.time += 0.05  # a little late: the grid holds
    take(frames, 1)
    clock.time += 1.0  # waiting for a result: at once, then the grid starts anew
    take(frames, 2)
    assert clock.waits == [0.0, 0.2, 0.15, 0.0, 0.2]


def test_fps_replaces_a_file_s_rate_and_without_pace_it_is_read_at_once(tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=3, fps=5.0)
    clock = FakeClock()
    assert len(take(VideoFrames(str(video), fps=20.0, clock=clock), 5)) == 3
    assert clock.waits == [0.0, 0.05, 0.05]
    clock = FakeClock()
    frames = VideoFrames(str(video), pace=False, clock=clock)
    assert len(take(frames, 5)) == 3 and clock.waits == []
    assert frames.file_fps == pytest.approx(5.0) and frames.frame_count is None  # closed


def test_a_file_without_a_rate_plays_at_the_fallback_said_once_even_when_looping():
    clock = FakeClock()
    frames, events = scripted(
        'clip.avi', clock, *[ScriptedCapture(clock, good(2), read_s=0, count=2)
                             for _ in range(3)], loop=True)
    assert len(take(frames, 6)) == 6
    assert clock.waits == [0.0] + [round(1 / FALLBACK_FPS, 6)] * 5
    assert lines(events, 'warning') == [
        f"'clip.avi' does not state its frame rate; playing it at {FALLBACK_FPS:g} fps"]
    assert len(lines(events, 'debug', 'restarted')) == 2
    assert len(lines(events, 'info', 'opened')) == 1  # a restart opens it quietly


def test_loop_plays_a_real_file_again(tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=3)
    frames = VideoFrames(str(video), loop=True, pace=False, clock=FakeClock())
    assert len(take(frames, 7)) == 7 and not frames.ended
    frames.loop = False  # changed while playing: the file ends at its end
    assert len(take(frames, 10)) == 2 and frames.ended


def test_a_file_of_which_no_frame_can_be_read_is_an_error():
    clock = FakeClock()
    frames, _ = scripted('clip.avi', clock, ScriptedCapture(clock, [], count=5), reconnect=True)
    with pytest.raises(SourceError, match="no frame could be read from 'clip.avi'"):
        frames.next()


def test_a_file_reports_its_frame_count_and_rate(tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=3, fps=7.0)
    frames = VideoFrames(str(video))
    frames.open()
    try:
        assert (frames.live, frames.frame_count, frames.file_fps) == (False, 3, 7.0)
    finally:
        frames.close()


# -- opening and reconnecting ------------------------------------------------------------------

def test_a_source_that_cannot_be_opened_is_an_error_without_reconnect():
    frames, events = scripted(CAMERA, FakeClock(), None)
    with pytest.raises(OpenError, match=f"cannot open device '{CAMERA}': no such device"):
        frames.next()
    assert events == []


def test_reconnect_retries_opening_with_a_doubling_backoff_and_one_warning():
    clock = FakeClock()
    frames, events = scripted(CAMERA, clock, *[None] * 6, ScriptedCapture(clock, good(3)),
                              reconnect=True)
    assert len(take(frames, 3)) == 3
    assert clock.waits == [0.5, 1.0, 2.0, 4.0, BACKOFF_MAX_S, BACKOFF_MAX_S]
    warnings = lines(events, 'warning')
    assert warnings == [f"cannot open device '{CAMERA}': no such device (video devices: "
                        f'{video_devices()}); retrying with a backoff up to 5 s because '
                        'reconnect is true']
    assert len(lines(events, 'debug', 'retrying')) == 5
    # Never received before: 'receiving', not 'recovered'; the opening is news only then.
    assert lines(events, 'info') == [f"receiving frames from '{CAMERA}' after 17.5 s of retrying"]


def test_a_live_source_survives_a_failed_read_between_frames():
    clock = FakeClock()
    glitch = good(3) + [(False, None)] * 5 + good(3)
    frames, events = scripted(CAMERA, clock, ScriptedCapture(clock, glitch))
    assert len(take(frames, 6)) == 6 and frames.live
    assert lines(events, 'warning') == []


@pytest.mark.parametrize('delivered, what', [
    (5, 'stopped delivering frames'), (0, 'was opened but delivered no frame')])
def test_a_live_source_is_lost_once_reads_fail_for_a_while(delivered, what):
    clock = FakeClock()
    frames, events = scripted(CAMERA, clock, ScriptedCapture(clock, good(delivered)))
    assert len(take(frames, delivered)) == delivered
    started = clock.time
    with pytest.raises(SourceLostError, match=f"^'{CAMERA}' {what}$"):
        frames.next()
    assert LOST_AFTER_S <= clock.time - started < LOST_AFTER_S + 0.1
    assert lines(events, 'warning') == []


def test_a_read_that_blocks_long_and_fails_loses_the_source_at_once():
    clock = FakeClock()
    frames, _ = scripted(CAMERA, clock, ScriptedCapture(clock, good(1), read_s=10.0))
    frames.next()
    with pytest.raises(SourceLostError):
        frames.next()
    assert clock.waits == []  # no read again after a 10 s read that failed


def test_a_camera_that_drops_out_twice_is_reopened_each_time_at_its_new_size():
    clock = FakeClock()
    frames, events = scripted(
        CAMERA, clock, ScriptedCapture(clock, good(5)), None, None,
        ScriptedCapture(clock, good(2)), None,
        ScriptedCapture(clock, good(3, width=320, height=240)), reconnect=True)
    sizes = [image.shape[:2] for image in take(frames, 10)]
    assert sizes == [(120, 160)] * 7 + [(240, 320)] * 3
    backoffs = [wait for wait in clock.waits if wait >= 0.5]
    assert backoffs == [0.5, 1.0, 2.0, 0.5, 1.0]  # the backoff starts over after a recovery
    warnings = lines(events, 'warning')
    assert warnings == [f"'{CAMERA}' stopped delivering frames; reopening with a backoff up "
                        'to 5 s because reconnect is true'] * 2
    recovered = lines(events, 'info', 'recovered')
    assert len(recovered) == 2 and all(
        line.startswith(f"recovered: receiving frames from '{CAMERA}' after ")
        for line in recovered)
    assert lines(events, 'info', 'opened') == [f"opened '{CAMERA}' (SCRIPTED, 160x120)"]


def test_reconnect_changed_while_running_applies_to_the_next_loss():
    clock = FakeClock()
    frames, _ = scripted(CAMERA, clock, ScriptedCapture(clock, good(2)), reconnect=True)
    frames.next()
    frames.reconnect = False
    frames.next()
    with pytest.raises(SourceLostError):
        frames.next()


def test_stop_ends_a_backoff_wait_at_once():
    frames = VideoFrames(CAMERA, reconnect=True, open_source=ScriptedOpener())
    results = []
    thread = threading.Thread(target=lambda: results.append(frames.next()))
    thread.start()
    time.sleep(0.1)  # into the first backoff wait (0.5 s) or about to
    started = time.monotonic()
    frames.stop()
    thread.join(timeout=5.0)
    assert not thread.is_alive() and results == [None]
    assert time.monotonic() - started < 0.4


# -- live rate ---------------------------------------------------------------------------------

def test_a_live_source_with_fps_gives_at_most_that_many_frames():
    clock = FakeClock()
    camera = ScriptedCapture(clock, good(1000), read_s=0.01)  # 100 frames per second
    frames, _ = scripted(CAMERA, clock, camera, fps=20.0)
    started = clock.time
    assert len(take(frames, 40)) == 40
    assert clock.time - started == pytest.approx(2.0, abs=0.1)
    frames.fps = 0.0  # changed at run time: every frame again
    started = clock.time
    take(frames, 40)
    assert clock.time - started == pytest.approx(0.4, abs=0.02)


# -- frames ------------------------------------------------------------------------------------

@pytest.mark.parametrize('width, height, expected', [
    (64, 48, (48, 64)), (80, 0, (60, 80)), (0, 30, (30, 40)), (0, 0, (120, 160))])
def test_frames_are_resized_to_the_size_asked(width, height, expected):
    clock = FakeClock()
    frames, _ = scripted(CAMERA, clock, ScriptedCapture(clock, good(1)), width=width,
                         height=height)
    image = frames.next()
    assert image.shape == (*expected, 3)
    assert tuple(image[0, 0]) == BGR


def test_grey_and_bgra_frames_become_bgr():
    clock = FakeClock()
    grey = np.full((120, 160), 90, np.uint8)
    bgra = np.dstack([frame(), np.full((120, 160), 255, np.uint8)])
    frames, _ = scripted(CAMERA, clock, ScriptedCapture(clock, [(True, grey), (True, bgra)]))
    assert tuple(frames.next()[0, 0]) == (90, 90, 90)
    assert tuple(frames.next()[0, 0]) == BGR


def test_unusable_frames_are_dropped_counted_and_warned_about_now_and_then():
    clock = FakeClock()
    reads = (good(1) + [(True, None)] * 200 + [(True, np.empty((0, 0, 3), np.uint8))] * 400
             + [(True, frame(320, 240))] * 3 + [(True, frame().astype(np.float32))] * 2
             + good(2))
    frames, events = scripted(CAMERA, clock, ScriptedCapture(clock, reads))
    assert len(take(frames, 3)) == 3
    assert frames.dropped == 605
    # 6 s of empty frames: warned at the start and once more after 5 s; other kinds apart.
    assert lines(events, 'warning') == [
        'dropping empty frames', 'dropping empty frames',
        'dropping frames of 320x240: this source started at 160x120 (set width/height to '
        'resize instead)',
        'dropping frames of shape (120, 160, 3) float32']
