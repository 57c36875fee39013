"""camera_calibration YAML files -> sensor_msgs/CameraInfo, the way camera_info_manager does it.

camera_info_manager has no Python API in ROS 2, so camera nodes written in Python load the YAML
written by ``cameracalibrator`` (package camera_calibration) themselves. This module does only
that: resolve a ``camera_info_url`` (``file://``, ``package://`` or a plain path), validate the
file with error messages that name the offending key, and build CameraInfo messages. It never
touches a node, so it is usable from any process.
"""

import os
from urllib.parse import unquote, urlparse

import yaml

from ..errors import InstanceSegmentationError

__all__ = [
    'CameraInfoError',
    'fill_camera_info',
    'load_calibration',
    'resolve_camera_info_url',
]


class CameraInfoError(InstanceSegmentationError):
    """A camera_info_url that cannot be resolved or a calibration file that cannot be used."""


def resolve_camera_info_url(url):
    """Return the local file path named by ``url``, or None when ``url`` is empty.

    Accepted like camera_info_manager: ``file:///abs/path.yaml``, ``package://pkg/rel.yaml``
    (needs ament_index_python and an installed package), and, as a convenience, a plain path
    (``~`` expanded).
    """
    url = (url or '').strip()
    if not url:
        return None
    if '://' not in url:
        return os.path.expanduser(url)
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == 'file':
        # file:///abs/path (empty netloc) and the common slip file://relative/path.
        path = unquote(parsed.netloc + parsed.path)
        return os.path.expanduser(path)
    if scheme == 'package':
        package, rel = parsed.netloc, unquote(parsed.path).lstrip('/')
        try:
            from ament_index_python.packages import get_package_share_directory
        except ImportError:
            raise CameraInfoError(
                f'{url}: package:// URLs need ament_index_python; use a file:// URL instead'
            ) from None
        try:
            share = get_package_share_directory(package)
        except Exception as exc:  # PackageNotFoundError, or no AMENT_PREFIX_PATH at all
            raise CameraInfoError(f'{url}: cannot find package {package!r} ({exc})') from None
        return os.path.join(share, rel)
    raise CameraInfoError(f'{url}: unsupported URL scheme {scheme!r} (use file:// or a path)')


def _matrix(data, key, size, required=True):
    """Return matrix ``key``'s ``data`` as ``size`` floats; None if absent and optional."""
    entry = data.get(key)
    if entry is None:
        if required:
            raise CameraInfoError(f'missing key {key!r}')
        return None
    values = entry.get('data') if isinstance(entry, dict) else entry
    if not isinstance(values, (list, tuple)):
        raise CameraInfoError(f'{key}: expected a mapping with a "data" list')
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise CameraInfoError(f'{key}: data must hold numbers') from None
    if size is not None and len(values) != size:
        raise CameraInfoError(f'{key}: expected {size} numbers, got {len(values)}')
    return values


def load_calibration(url):
    """Load the camera_calibration YAML named by ``url`` into a plain dict.

    Keys: ``width``, ``height``, ``camera_name``, ``distortion_model``, ``d``, ``k``, ``r``,
    ``p``. Returns None for an empty url. Raises CameraInfoError with the file name and the
    reason for anything missing or malformed, so that a typo in a launch file is a clear error
    rather than a silently uncalibrated camera.
    """
    path = resolve_camera_info_url(url)
    if path is None:
        return None
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except OSError as exc:
        raise CameraInfoError(f'{path}: {exc.strerror or exc}') from None
    except yaml.YAMLError as exc:
        raise CameraInfoError(f'{path}: not valid YAML ({exc})') from None
    if not isinstance(data, dict):
        raise CameraInfoError(f'{path}: expected a camera_calibration YAML mapping')
    try:
        size = {}
        for key in ('image_width', 'image_height'):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CameraInfoError(f'{key} must be a positive integer, got {value!r}')
            size[key] = value
        k = _matrix(data, 'camera_matrix', 9)
        d = _matrix(data, 'distortion_coefficients', None, required=False) or []
        r = _matrix(data, 'rectification_matrix', 9, required=False)
        p = _matrix(data, 'projection_matrix', 12, required=False)
    except CameraInfoError as exc:
        raise CameraInfoError(f'{path}: {exc}') from None
    if r is None:
        r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    if p is None:
        # A monocular camera: P = [K | 0].
        p = k[0:3] + [0.0] + k[3:6] + [0.0] + k[6:9] + [0.0]
    model = data.get('distortion_model') or ('plumb_bob' if d else '')
    return {
        'width': size['image_width'],
        'height': size['image_height'],
        'camera_name': str(data.get('camera_name', '')),
        'distortion_model': str(model),
        'd': d,
        'k': k,
        'r': r,
        'p': p,
    }


def fill_camera_info(msg, width, height, calibration=None):
    """Fill a sensor_msgs/CameraInfo (not its header) and return it.

    Without a calibration it is what ROS camera drivers publish for an uncalibrated camera: the
    frame size and all-zero matrices, which consumers recognise by ``k[0] == 0``.
    """
    msg.width = int(width)
    msg.height = int(height)
    if calibration is None:
        msg.distortion_model = ''
        msg.d = []
        msg.k = [0.0] * 9
        msg.r = [0.0] * 9
        msg.p = [0.0] * 12
    else:
        msg.distortion_model = calibration['distortion_model']
        msg.d = list(calibration['d'])
        msg.k = list(calibration['k'])
        msg.r = list(calibration['r'])
        msg.p = list(calibration['p'])
    return msg
