"""The CLI's windows on a real X server, checked in screenshots as a person would see them.

`image --show` opens two windows, the original and the result, side by side; `webcam` shows a
live window that closes on q, and plays a video file to its end. The windows come from
OpenCV's HighGUI where OpenCV has a GUI, else from tkinter (the README's pip install has the
headless OpenCV); each platform leg of CI runs these tests with the viewer it has.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from virtual_screen import SKIP_REASON, VirtualScreen

from instance_segmentation_ros.cli.viewer import MAX_WINDOW_SIZE, open_viewer, opencv_has_gui
from instance_segmentation_ros.demo.scenes import generate_scene, generate_scenes

pytestmark = pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON)

SCRIPT = Path(sys.executable).parent / 'instance-segmentation'
WEBCAM_WINDOW = 'instance-segmentation webcam (q quits)'
EXIT_TIMEOUT = 60


@pytest.fixture
def screen(tmp_path):
    frame_buffer = tmp_path / 'screen'
    frame_buffer.mkdir()
    virtual = VirtualScreen(frame_buffer)
    yield virtual
    virtual.close()


def start(screen, tmp_path, *args):
    return subprocess.Popen([str(SCRIPT), *map(str, args)], cwd=tmp_path, env=screen.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    out, err = process.communicate(timeout=EXIT_TIMEOUT)
    return process.returncode, out, err


def scene_bgr(index: int, size=None) -> np.ndarray:
    bgr = cv2.cvtColor(generate_scene(seed=11, index=index).image, cv2.COLOR_RGB2BGR)
    return bgr if size is None else cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_viewer_is_the_one_this_opencv_allows(screen, monkeypatch):
    monkeypatch.setenv('DISPLAY', screen.display)
    with open_viewer() as viewer:
        assert viewer.backend == ('opencv' if opencv_has_gui() else 'tk')


def test_image_show_opens_the_original_and_the_result_side_by_side(screen, tmp_path):
    photo = scene_bgr(0)
    cv2.imwrite(str(tmp_path / 'photo.png'), photo)
    process = start(screen, tmp_path, 'image', 'photo.png', '--show', '-o', 'result.png')
    windows = screen.wait_for_windows(('original', 'segmented'), process)
    original, segmented = windows['original'], windows['segmented']
    height, width = photo.shape[:2]
    for window in (original, segmented):
        assert (window.width, window.height) == (width, height), windows
    assert segmented.x >= original.x + original.width, 'the windows overlap'
    assert segmented.y == original.y

    result = cv2.imread(str(tmp_path / 'result.png'))
    assert mean_difference(screen.window_image(original), photo) < 2
    shown = screen.window_image(segmented)
    assert mean_difference(shown, result) < 2, 'the window does not show the written result'
    changed = np.any(np.abs(shown.astype(np.int16) - photo) > 40, axis=2).mean()
    assert changed > 0.05, 'the result window looks like the input: no overlay drawn'

    screen.press(segmented, 'space')
    status, out, err = finish(process)
    assert status == 0, err
    assert 'press any key in a window to close' in out


def test_image_show_fits_a_large_photo_on_the_screen(screen, tmp_path):
    photo = scene_bgr(1, (2400, 1800))
    cv2.imwrite(str(tmp_path / 'big.jpg'), photo)
    process = start(screen, tmp_path, 'image', 'big.jpg', '--show')
    windows = screen.wait_for_windows(('original', 'segmented'), process)
    for window in windows.values():
        assert window.width <= MAX_WINDOW_SIZE[0] and window.height <= MAX_WINDOW_SIZE[1]
        assert abs(window.width / window.height - 4 / 3) < 0.01
    expected = cv2.resize(photo, (windows['original'].width, windows['original'].height),
                          interpolation=cv2.INTER_AREA)
    assert mean_difference(screen.window_image(windows['original']), expected) < 3
    screen.press(windows['original'], 'Escape')
    assert finish(process)[0] == 0


def write_video(path: Path, frames: int, fps: float = 10.0) -> list[np.ndarray]:
    scenes = [cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR)
              for scene in generate_scenes(min(frames, 8), seed=12)]
    height, width = scenes[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (width, height))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(scenes[index % len(scenes)])
    writer.release()
    return scenes


def test_webcam_window_is_live_and_closes_on_q(screen, tmp_path):
    scenes = write_video(tmp_path / 'camera.avi', 3000)
    process = start(screen, tmp_path, 'webcam', '--device', 'camera.avi')
    window = screen.wait_for_windows((WEBCAM_WINDOW,), process)[WEBCAM_WINDOW]
    height, width = scenes[0].shape[:2]
    assert (window.width, window.height) == (width, height)
    shown = screen.window_image(window)
    assert min(mean_difference(shown, scene) for scene in scenes) > 2, 'no overlay drawn'
    banner = shown[5:35, 5:200]  # the frame rate, white on black, top left
    assert (banner > 200).all(axis=2).sum() > 50, 'no frame rate shown'

    screen.press(window, 'q')
    status, out, err = finish(process)
    assert status == 0, err
    assert 'camera.avi: stopped after' in out
    assert int(out.split('stopped after ')[1].split()[0]) < 3000


def test_webcam_plays_a_video_file_to_its_end_and_writes_it(screen, tmp_path):
    write_video(tmp_path / 'clip.avi', 6)
    process = start(screen, tmp_path, 'webcam', '--device', 'clip.avi', '--output', 'out.mp4',
                    '--show')
    status, out, err = finish(process)
    assert status == 0, err
    assert 'clip.avi: end of file after 6 frames' in out and 'wrote out.mp4' in out
    written = cv2.VideoCapture(str(tmp_path / 'out.mp4'))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
