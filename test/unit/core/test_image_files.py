"""image_files: which files of a folder are images, and which of them are whole."""

import os
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from payloads import with_exif_thumbnail, with_orientation

from instance_segmentation_ros.core.image_files import (
    DEFAULT_GLOBS,
    DEFAULT_PATTERN,
    ImageFolderError,
    ImagePlaylist,
    decode_image,
    jpeg_orientation,
    list_image_files,
    parse_pattern,
    read_image,
    read_image_file,
)

CONFIG = Path(__file__).resolve().parents[3] / 'config' / 'folder_player.yaml'
TRUNCATED_JPEG = 'truncated JPEG (no end-of-image marker)'
TRUNCATED_PNG = 'truncated PNG (no IEND chunk)'


@pytest.fixture(scope='module')
def scene():
    """Noise, so that a JPEG of it is mostly entropy-coded data and cutting it hits the scan."""
    return np.random.default_rng(7).integers(0, 256, (48, 64, 3), np.uint8)


def encoded(scene, extension):
    ok, data = cv2.imencode(extension, scene)
    assert ok
    return data.tobytes()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize('extension', ['.jpg', '.png', '.bmp', '.tif', '.webp'])
def test_whole_images_read_as_bgr_uint8(scene, tmp_path, extension):
    image, reason = read_image(write(tmp_path, f'a{extension}', encoded(scene, extension)))
    assert reason == ''
    assert image.dtype == np.uint8 and image.shape == scene.shape
    if extension in ('.png', '.bmp', '.tif'):  # lossless
        assert np.array_equal(image, scene)


def test_a_jpeg_cut_in_half_is_refused_though_opencv_shows_part_of_it(scene, tmp_path):
    data = encoded(scene, '.jpg')
    path = write(tmp_path, 'cut.jpg', data[:len(data) // 2])
    assert cv2.imread(str(path)) is not None  # the grey-bottomed image folder_player published
    assert read_image(path) == (None, TRUNCATED_JPEG)


def test_read_image_file_gives_the_bytes_of_a_whole_file_only(scene, tmp_path):
    data = encoded(scene, '.jpg')
    read, image, reason = read_image_file(write(tmp_path, 'a.jpg', data))
    assert read == data and reason == '' and image.shape == scene.shape
    cut = write(tmp_path, 'cut.jpg', data[:len(data) // 2])
    assert read_image_file(cut) == (None, None, TRUNCATED_JPEG)


@pytest.mark.parametrize('ending, whole', [
    (-2, False),  # all but the end-of-image marker
    (b'\x00' * 512, True),  # padding after the marker
    (b'\xff\xff', True),
])
def test_a_jpeg_is_whole_when_it_ends_with_its_marker(scene, tmp_path, ending, whole):
    data = encoded(scene, '.jpg')
    data = data[:ending] if isinstance(ending, int) else data + ending
    image, reason = read_image(write(tmp_path, 'a.jpg', data))
    assert (image is not None, reason) == ((True, '') if whole else (False, TRUNCATED_JPEG))


@pytest.mark.parametrize('byte_order', ['little', 'big'])
@pytest.mark.parametrize('orientation', [1, 3, 6, 8])
def test_the_exif_orientation_of_a_jpeg_is_read_in_either_byte_order(scene, orientation,
                                                                      byte_order):
    data = with_orientation(encoded(scene, '.jpg'), orientation, byte_order)
    assert jpeg_orientation(data) == orientation
    # It is what OpenCV turns a file by: 6 and 8 swap width and height.
    image, reason = decode_image(data)
    assert reason == '' and image.shape[:2] == (
        scene.shape[1::-1] if orientation in (6, 8) else scene.shape[:2])


@pytest.mark.parametrize('data', [
    b'\xff\xd8\xff\xe1\x00\x10Exif\x00\x00XX\x00\x00\x00\x00\x00\x00',  # no byte order
    b'\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II\x2a\x00\xff\xff\x00\x00',  # IFD past the end
    b'\xff\xd8\xff\xe1\xff\xffExif',  # segment longer than the file
    b'\xff\xd8',
], ids=['byte-order', 'ifd-offset', 'cut', 'empty'])
def test_an_unreadable_or_missing_orientation_is_upright(data):
    assert jpeg_orientation(data) == 1


def test_data_after_the_end_marker_is_allowed_as_in_motion_photos(scene, tmp_path):
    data = encoded(scene, '.jpg') + b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 8
    image, reason = read_image(write(tmp_path, 'PXL_MP.jpg', data))
    assert reason == '' and image.shape == scene.shape


def test_the_end_marker_of_an_exif_thumbnail_does_not_make_a_cut_jpeg_whole(scene, tmp_path):
    data = with_exif_thumbnail(encoded(scene, '.jpg'), encoded(scene[:8, :8], '.jpg'))
    whole, reason = read_image(write(tmp_path, 'whole.jpg', data))
    assert reason == '' and whole.shape == scene.shape
    cut = data[:len(data) - (len(data) - 200) // 2]
    assert read_image(write(tmp_path, 'cut.jpg', cut)) == (None, TRUNCATED_JPEG)


@pytest.mark.parametrize('cut', ['half', 'iend', 'crc'])
def test_a_truncated_png_is_refused(scene, tmp_path, cut):
    data = encoded(scene, '.png')
    data = {'half': data[:len(data) // 2], 'iend': data[:-12], 'crc': data[:-1]}[cut]
    assert read_image(write(tmp_path, 'cut.png', data)) == (None, TRUNCATED_PNG)


def test_a_whole_png_that_does_not_decode_is_corrupt(scene, tmp_path):
    data = bytearray(encoded(scene, '.png'))
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # image data no longer matches its CRC
    image, reason = read_image(write(tmp_path, 'bad.png', bytes(data)))
    assert (image, reason) == (None, 'corrupt PNG (OpenCV cannot decode it)')


def test_the_format_comes_from_the_bytes_not_the_name(scene, tmp_path):
    data = encoded(scene, '.jpg')
    assert read_image(write(tmp_path, 'photo.png', data[:-2])) == (None, TRUNCATED_JPEG)
    image, reason = read_image(write(tmp_path, 'photo.jpg', encoded(scene, '.png')))
    assert reason == '' and np.array_equal(image, scene)


def test_empty_missing_and_non_image_files_have_a_reason(tmp_path):
    assert read_image(write(tmp_path, 'empty.jpg', b'')) == (None, 'empty file')
    assert read_image(tmp_path / 'gone.jpg') == (None, 'no such file or directory')
    (tmp_path / 'folder.jpg').mkdir()
    assert read_image(tmp_path / 'folder.jpg') == (None, 'is a directory')
    assert read_image(write(tmp_path, 'notes.jpg', b'not an image\n' * 20)) == (
        None, 'not an image OpenCV can decode')


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files whatever their permissions')
def test_a_file_without_read_permission_has_a_reason(scene, tmp_path):
    path = write(tmp_path, 'locked.png', encoded(scene, '.png'))
    path.chmod(0)
    assert read_image(path) == (None, 'permission denied')


def test_list_image_files_gives_the_image_files_in_name_order_any_case(tmp_path):
    for name in ('b.PNG', 'a.jpeg', 'c.Tiff', 'A.webp', 'd.bmp', 'e.JPG', 'f.tif', 'notes.txt',
                 'image.gif', 'png'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'folder.jpg').mkdir()
    assert list_image_files(tmp_path) == [
        'A.webp', 'a.jpeg', 'b.PNG', 'c.Tiff', 'd.bmp', 'e.JPG', 'f.tif']
    assert list_image_files(str(tmp_path), parse_pattern(' *.GIF,, *.txt ')) == [
        'image.gif', 'notes.txt']
    assert list_image_files(tmp_path, parse_pattern('a*')) == ['A.webp', 'a.jpeg']


def folder_error(folder, patterns=DEFAULT_GLOBS) -> str:
    with pytest.raises(ImageFolderError) as raised:
        list_image_files(folder, patterns)
    message = str(raised.value)
    assert '\n' not in message and 'Errno' not in message
    return message


def test_a_missing_folder_or_a_file_is_one_line(tmp_path):
    assert folder_error(tmp_path / 'missing') == (
        f"input folder '{tmp_path / 'missing'}' does not exist")
    file = write(tmp_path, 'file.png', b'x')
    assert folder_error(file) == f"input folder '{file}' is a file, not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason='root lists folders whatever their permissions')
def test_a_folder_that_cannot_be_listed_is_one_line(tmp_path):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0)
    try:
        assert folder_error(locked) == f"cannot list input folder '{locked}': permission denied"
    finally:
        locked.chmod(0o755)


def test_an_empty_folder_and_one_without_a_match_say_what_was_looked_for(tmp_path):
    assert folder_error(tmp_path) == (
        f"input folder '{tmp_path}' is empty: no images in it (looked for *.jpg, *.jpeg, *.png, "
        '*.bmp, *.tif, *.tiff, *.webp, any case)')
    write(tmp_path, 'notes.txt', b'x')
    (tmp_path / 'photos.png').mkdir()
    assert folder_error(tmp_path, parse_pattern('*.PNG,*.gif')) == (
        f"no images in input folder '{tmp_path}': none of its 2 entries is a file that matches "
        '(looked for *.png, *.gif, any case)')


def whole_png(tmp_path, name, width=8):
    return write(tmp_path, name, encoded(np.zeros((4, width, 3), np.uint8), '.png'))


def test_a_playlist_reads_the_files_in_name_order_skipping_the_unreadable_once(tmp_path):
    for index, name in enumerate(['b.png', 'a.png', 'd.png']):
        whole_png(tmp_path, name, 8 + index)
    write(tmp_path, 'c.png', b'garbage')
    skipped = []
    playlist = ImagePlaylist(str(tmp_path))
    played = []
    while (item := playlist.next_image(lambda path, reason: skipped.append((path, reason)))):
        name, data, image = item
        assert data == (tmp_path / name).read_bytes()
        played.append((name, image.shape[1]))
    assert played == [('a.png', 9), ('b.png', 8), ('d.png', 10)]
    assert skipped == [(str(tmp_path / 'c.png'), 'not an image OpenCV can decode')]
    assert (playlist.read, playlist.skips, playlist.skipped) == (3, 1, ['c.png'])
    assert playlist.next_image() is None
    assert playlist.tally() == '3 images, skipped 1 (c.png)'


def test_a_looping_playlist_lists_the_folder_again_for_each_pass(tmp_path):
    whole_png(tmp_path, 'a.png')
    write(tmp_path, 'b.png', b'garbage')
    skipped = []

    def play(count):
        return [playlist.next_image(lambda path, reason: skipped.append(path))[0]
                for _ in range(count)]

    playlist = ImagePlaylist(str(tmp_path), loop=True)
    names = play(2)
    whole_png(tmp_path, 'c.png')  # added during the second pass: played in the third
    names += play(2)
    assert names == ['a.png', 'a.png', 'a.png', 'c.png']
    assert skipped == [str(tmp_path / 'b.png')]  # told once, counted each time
    assert playlist.skips == 3 and playlist.skipped == ['b.png']
    playlist.loop = False
    assert playlist.next_image() is None


def test_a_looping_playlist_that_read_nothing_in_a_pass_or_lost_its_folder_fails(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    write(folder, 'a.png', b'garbage')
    with pytest.raises(ImageFolderError, match=f"^no file of '{folder}' could be read$"):
        ImagePlaylist(str(folder), loop=True).next_image()
    whole_png(folder, 'a.png')
    playlist = ImagePlaylist(str(folder), loop=True)
    assert playlist.next_image()[0] == 'a.png'
    (folder / 'a.png').unlink()
    folder.rmdir()
    with pytest.raises(ImageFolderError, match='does not exist'):
        playlist.next_image()


def test_an_rgbd_playlist_plays_the_colour_images_only(tmp_path):
    whole_png(tmp_path, 'a.png')
    whole_png(tmp_path, 'a_depth.png')
    assert ImagePlaylist(str(tmp_path), skip_depth=True).names == ['a.png']
    assert ImagePlaylist(str(tmp_path)).names == ['a.png', 'a_depth.png']
    (tmp_path / 'a.png').unlink()
    with pytest.raises(ImageFolderError, match='holds depth images only'):
        ImagePlaylist(str(tmp_path), skip_depth=True)


def test_the_tally_names_ten_skipped_files_at_most(tmp_path):
    whole_png(tmp_path, 'a.png')
    for index in range(12):
        write(tmp_path, f'z{index:02}.png', b'')
    playlist = ImagePlaylist(str(tmp_path))
    while playlist.next_image():
        pass
    names = ', '.join(f'z{index:02}.png' for index in range(10))
    assert playlist.tally() == f'1 images, skipped 12 ({names} and 2 more)'


def test_folder_player_config_states_the_default_pattern():
    parameters = yaml.safe_load(CONFIG.read_text())['/**']['ros__parameters']
    assert parameters['pattern'] == DEFAULT_PATTERN


def with_declared_size(data: bytes, kind: str, width: int, height: int) -> bytes:
    """`data` (a whole PNG or baseline JPEG) with its header claiming another size."""
    data = bytearray(data)
    if kind == 'png':
        data[16:24] = width.to_bytes(4, 'big') + height.to_bytes(4, 'big')
        data[29:33] = zlib.crc32(data[12:29]).to_bytes(4, 'big')  # a forger fixes the checksum
    else:
        frame = data.index(b'\xff\xc0')
        data[frame + 5:frame + 9] = height.to_bytes(2, 'big') + width.to_bytes(2, 'big')
    return bytes(data)


@pytest.mark.parametrize('kind,width,height', [('png', 100_000, 100_000),
                                               ('jpg', 65_535, 65_535)])
def test_a_header_claiming_a_huge_size_is_refused_before_decoding(scene, tmp_path, kind, width,
                                                                  height):
    data = with_declared_size(encoded(scene, f'.{kind}'), kind, width, height)
    image, reason = read_image(write(tmp_path, f'bomb.{kind}', data))
    assert image is None and f'declares {width}x{height} pixels' in reason


def test_a_png_chunk_claiming_more_bytes_than_the_file_has_is_refused(scene, tmp_path):
    data = bytearray(encoded(scene, '.png'))
    data[33] = 0xFF  # the first chunk after IHDR now claims about 4 GB
    assert read_image(write(tmp_path, 'long.png', bytes(data))) == (None, TRUNCATED_PNG)


def test_a_png_whose_header_fails_its_checksum_is_corrupt(scene, tmp_path):
    data = bytearray(encoded(scene, '.png'))
    data[19] ^= 0x01  # width, without fixing the CRC
    image, reason = read_image(write(tmp_path, 'bad.png', bytes(data)))
    assert image is None and reason == 'corrupt PNG (its IHDR header fails its checksum)'
