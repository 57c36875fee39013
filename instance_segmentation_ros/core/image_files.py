"""The image files of a folder, and reading one, by one rule for the CLI and folder_player.

A JPEG or PNG that was cut short (a copy still running, a full disk) is refused: OpenCV decodes
such a JPEG into a partly grey image and only prints a libjpeg warning (imread always, imdecode
in some builds), so "it decodes" does not mean "it is whole". A PNG's chunks must lead to its
IEND chunk, each within the file. A JPEG's image data must be followed by its end-of-image
marker; data after that marker is allowed, as phones append a video to "motion photos" there,
and the marker of an embedded EXIF thumbnail does not count. These checks cost nothing next to
the decode, and refuse such files before libjpeg or libpng prints anything.
"""

import fnmatch
import os
import zlib

from ..errors import InstanceSegmentationError, describe_os_error

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
DEFAULT_GLOBS = tuple(f'*{extension}' for extension in IMAGE_EXTENSIONS)
DEFAULT_PATTERN = ','.join(DEFAULT_GLOBS)

# format: (first bytes, what a whole file ends with)
SIGNATURES = {
    'JPEG': (b'\xff\xd8\xff', 'end-of-image marker'),
    'PNG': (b'\x89PNG\r\n\x1a\n', 'IEND chunk'),
}
DEPTH_SUFFIX = '_depth.png'
"""RGB-D folders: `NAME_depth.png` (16-bit grey, millimetres) is the depth of colour `NAME.*`."""
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers: the size
MAX_PIXELS = 1 << 28
"""Largest image decoded (268 megapixels): a few header bytes can claim any size, and OpenCV
would allocate it before finding the data missing."""


def parse_pattern(pattern):
    """Split a comma separated list of globs into lower-case globs (empty entries dropped)."""
    return [glob.strip().lower() for glob in pattern.split(',') if glob.strip()]


class ImageFolderError(InstanceSegmentationError):
    """A folder of images that cannot be played or segmented: missing, unreadable, no images."""


def list_image_files(folder: str | os.PathLike, patterns=DEFAULT_GLOBS) -> list[str]:
    """Names of the files in ``folder`` that match any glob, case-insensitive, in name order.

    ``patterns`` are lower-case globs, as parse_pattern returns them. ImageFolderError, one
    line, when the folder is missing, not a folder, cannot be listed, or has no such file.
    """
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        raise ImageFolderError(f"input folder '{folder}' does not exist") from None
    except NotADirectoryError:
        raise ImageFolderError(f"input folder '{folder}' is a file, not a folder") from None
    except OSError as error:
        raise ImageFolderError(
            f"cannot list input folder '{folder}': {describe_os_error(error)}") from None
    names = [name for name in entries
             if any(fnmatch.fnmatchcase(name.lower(), glob) for glob in patterns)
             and os.path.isfile(os.path.join(folder, name))]
    if names:
        return names
    looked_for = f"looked for {', '.join(patterns)}, any case"
    if not entries:
        raise ImageFolderError(f"input folder '{folder}' is empty: no images in it ({looked_for})")
    raise ImageFolderError(f"no images in input folder '{folder}': none of its {len(entries)} "
                           f'entries is a file that matches ({looked_for})')


class ImagePlaylist:
    """The image files of a folder in name order, each read when its turn comes, once or looped.

    The folder is listed at once and again for each pass of a `loop` (which may be changed at
    any time), so files added or removed meanwhile are noticed; a file that vanished or cannot
    be decoded then is skipped and counted. With `skip_depth` the depth images of an RGB-D
    folder are not played.
    """

    def __init__(self, folder: str, patterns=DEFAULT_GLOBS, skip_depth: bool = False,
                 loop: bool = False):
        self.folder, self.loop = folder, loop
        self._patterns, self._skip_depth = patterns, skip_depth
        self.names = self._list()
        self._index = self._read_this_pass = 0
        self.read = self.skips = 0  # files read and files skipped, all passes
        self.skipped = []  # unique names skipped, in order of first failure

    def tally(self, names_shown: int = 10) -> str:
        """'N images, skipped M (a.png, b.png and 3 more)': what was read and what skipped."""
        text = f'{self.read} images, skipped {self.skips}'
        if self.skipped:
            more = len(self.skipped) - names_shown
            text += (f" ({', '.join(self.skipped[:names_shown])}"
                     f"{f' and {more} more' if more > 0 else ''})")
        return text

    def _list(self) -> list[str]:
        names = [name for name in list_image_files(self.folder, self._patterns)
                 if not (self._skip_depth and is_depth_file(name))]
        if not names:
            raise ImageFolderError(f"input folder '{self.folder}' holds depth images only")
        return names

    def next_image(self, on_skip=None):
        """(name, file bytes, BGR image) of the next readable file; None after the last one.

        `on_skip(path, reason)` hears of a file skipped, the first time for its name (a loop
        meets it again). In a loop, ImageFolderError when a whole pass read no file or the
        folder cannot be listed again.
        """
        while True:
            if self._index >= len(self.names):
                if not self.loop:
                    return None
                if self._read_this_pass == 0:
                    raise ImageFolderError(f"no file of '{self.folder}' could be read")
                self.names = self._list()
                self._index = self._read_this_pass = 0
            name = self.names[self._index]
            self._index += 1
            path = os.path.join(self.folder, name)
            data, image, reason = read_image_file(path)
            if image is not None:
                self.read += 1
                self._read_this_pass += 1
                return name, data, image
            self.skips += 1
            if name not in self.skipped:
                self.skipped.append(name)
                if on_skip is not None:
                    on_skip(path, reason)


def read_image(path):
    """(BGR uint8 image, '') for an intact image file, else (None, a one-line reason)."""
    _, image, reason = read_image_file(path)
    return image, reason


def read_image_file(path):
    """(bytes, BGR uint8 image, '') for an intact image file, else (None, None, a reason).

    `read_image` plus the file's bytes, for passing a JPEG or PNG on as it is (see
    `compressed.file_payload`).
    """
    try:
        with open(path, 'rb') as file:
            data = file.read()
    except OSError as error:
        return None, None, describe_os_error(error)
    image, reason = decode_image(data)
    return (data if image is not None else None), image, reason


def decode_image(data, exif_orientation: bool = True):
    """(BGR uint8 image, '') for the bytes of an intact image file, else (None, a reason).

    A JPEG is turned by its EXIF orientation as a file (`exif_orientation`), not as a
    CompressedImage message: compressed_image_transport decodes those without it.
    """
    # Imported here: the CLI's help and argument errors need no OpenCV.
    import cv2
    import numpy as np

    if not data:
        return None, 'empty file'
    kind = _signature(data)
    if kind:
        what = SIGNATURES[kind][1]
        if kind == 'JPEG':
            frame, whole = _jpeg_layout(data)
            size = frame and frame[:2]
        else:
            size = (int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big'))
            whole = _png_chunks_end(data)
            if whole and zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], 'big'):
                return None, 'corrupt PNG (its IHDR header fails its checksum)'
        if not whole:
            return None, f'truncated {kind} (no {what})'
        if size is not None and size[0] * size[1] > MAX_PIXELS:
            return None, (f'{kind} declares {size[0]}x{size[1]} pixels, more than the '
                          f'{MAX_PIXELS >> 20} megapixels this package decodes')
    flags = cv2.IMREAD_COLOR | (0 if exif_orientation else cv2.IMREAD_IGNORE_ORIENTATION)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None or image.size == 0:
        return None, f'corrupt {kind} (OpenCV cannot decode it)' if kind else (
            'not an image OpenCV can decode')
    return image, ''


def stored_encoding(data):
    """(codec, encoding) of a JPEG or PNG of 8-bit colour or grey pixels, else ('', '').

    Codec 'jpeg' or 'png', encoding 'bgr8' or 'mono8': what a compressed_image_transport
    subscriber, which decodes without conversion, gets from these bytes. Alpha, 16 bits, a
    palette or CMYK would not be what the format string tells it, and a JPEG with an EXIF
    orientation other than upright would reach it unturned.
    """
    kind = _signature(data)
    if kind == 'JPEG':
        frame, _ = _jpeg_layout(data)
        if jpeg_orientation(data) != 1:  # a subscriber would not turn it as files are turned
            return '', ''
        components = frame and frame[2]
        return {3: ('jpeg', 'bgr8'), 1: ('jpeg', 'mono8')}.get(components, ('', ''))
    if kind == 'PNG' and len(data) > 25:
        bit_depth, colour_type = data[24], data[25]
        if bit_depth == 8:
            return {2: ('png', 'bgr8'), 0: ('png', 'mono8')}.get(colour_type, ('', ''))
    return '', ''


def _signature(data: bytes) -> str:
    """'JPEG' or 'PNG' by the first bytes, or ''."""
    return next((name for name, (start, _) in SIGNATURES.items() if data.startswith(start)), '')


def _png_chunks_end(data: bytes) -> bool:
    """True when the PNG's chunks, each within the data, lead to its IEND chunk.

    A chunk length past the end (a cut file, or a damaged length field) is refused here: OpenCV
    would first allocate what the field claims, up to 4 GB.
    """
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], 'big')
        if position + 12 + length > len(data):
            return False
        if data[position + 4:position + 8] == b'IEND':
            return True
        position += 12 + length
    return False


def _jpeg_segments(data: bytes):
    """(marker, segment payload start, end) of each marker segment before the first scan.

    Ends with (0xDA, scan start, len(data)) at the first scan, or with nothing where the walk
    cannot go on (a cut file, a header it cannot follow).
    """
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker == 0xDA:  # start of scan
            yield marker, position, len(data)
            return
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
        else:
            end = position + 2 + int.from_bytes(data[position + 2:position + 4], 'big')
            yield marker, position + 4, end
            position = end


def _jpeg_layout(data: bytes):
    """((width, height, components) of the frame header or None, whether the scan has its end).

    The marker segments before the first scan are stepped over by their lengths (an EXIF
    thumbnail, with markers of its own, lives in one); inside scans a 0xFF byte is always
    followed by 0x00 or a restart marker, so the first FF D9 after the scan starts is the
    image's end. A header this walk cannot follow is left for OpenCV to judge.
    """
    frame = None
    for marker, start, _ in _jpeg_segments(data):
        if marker == 0xDA:
            return frame, data.find(b'\xff\xd9', start) != -1
        if marker in SOF_MARKERS and start + 6 <= len(data):
            frame = (int.from_bytes(data[start + 3:start + 5], 'big'),
                     int.from_bytes(data[start + 1:start + 3], 'big'), data[start + 5])
    return frame, False


def jpeg_orientation(data: bytes) -> int:
    """The EXIF orientation of a JPEG (1-8; 1, upright, where it has none or it is unreadable).

    Image files are shown turned by it (OpenCV's imread too), but compressed_image_transport
    decodes a CompressedImage without it, so a JPEG with another orientation cannot be passed
    on as it is.
    """
    for marker, start, end in _jpeg_segments(data):
        if marker == 0xE1 and data[start:start + 6] == b'Exif\x00\x00':
            return _tiff_orientation(data[start + 6:end])
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    """Tag 0x0112 of the first IFD of an EXIF TIFF block; 1 where it is missing or invalid."""
    order = {b'II': 'little', b'MM': 'big'}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if entry + 10 > len(tiff):
            break
        if int.from_bytes(tiff[entry:entry + 2], order) == 0x0112:
            value = int.from_bytes(tiff[entry + 8:entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def is_depth_file(name: str) -> bool:
    """True for the depth image of an RGB-D folder (never played or segmented as colour)."""
    return name.lower().endswith(DEPTH_SUFFIX)


def depth_file_for(colour_path: str | os.PathLike) -> str:
    """The path of the depth image beside a colour image: NAME.* -> NAME_depth.png."""
    return os.path.splitext(os.fspath(colour_path))[0] + DEPTH_SUFFIX


def read_depth_file(path: str | os.PathLike):
    """(uint16 millimetres, '') for a 16-bit grey PNG, else (None, a one-line reason)."""
    import cv2
    import numpy as np

    if not os.path.isfile(path):
        return None, 'missing'
    depth = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        return None, 'not an image OpenCV can decode'
    if depth.dtype != np.uint16 or depth.ndim != 2:
        return None, f'not 16-bit grey ({depth.dtype}, {depth.ndim} dimensions)'
    return depth, ''
