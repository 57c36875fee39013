"""The Mask R-CNN models of the TensorFlow detection model zoos: catalogue, cache and download.

Models are downloaded into one cache folder, each unpacked into a folder named after it:

- ``$ROS_HOME/instance_segmentation_ros/models`` when ``ROS_HOME`` is set (ROS 2's own
  per-user folder, ``~/.ros`` by default), otherwise
- ``$XDG_CACHE_HOME/instance_segmentation_ros/models``, ``XDG_CACHE_HOME`` defaulting to
  ``~/.cache``.

Downloads are over https. A mirror (``--url-base`` or ``$INSTANCE_SEGMENTATION_ZOO_URL``) on
plain http is refused unless the caller allows it (``--insecure``): anyone on the way could
swap the archive, and trust on first use would then record the swap as the truth; a server
that redirects an https download to http is refused alike.

A download goes to ``<name>.tar.gz.part`` first and is resumed with an HTTP Range request
when that file is there (a server that ignores the range restarts it from zero), then the
archive is checked, unpacked with absolute and ``..`` member names refused, and deleted. The
check: its sha256 against the one the user gives (``--sha256``) or the catalogue knows;
otherwise (the zoos publish none) against the sha256 recorded in ``<name>.tar.gz.sha256`` beside
the model when it was first downloaded into that folder (trust on first use: a later download
that differs, a substituted archive or a changed mirror, is refused); and in any case that it
is a tarball holding ``saved_model/`` or ``frozen_inference_graph.pb``. `downloaded_model`
maps a catalogue name to its folder, which is how `source.locate_model` accepts a model name
wherever a model path is accepted.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import InstanceSegmentationError
from .layout import FROZEN_GRAPH_NAME, model_in_folder

DEFAULT_URL_BASE = 'https://download.tensorflow.org/models/object_detection'
URL_BASE_ENV = 'INSTANCE_SEGMENTATION_ZOO_URL'
"""Environment variable that replaces `DEFAULT_URL_BASE` (a mirror, or a test server)."""

CHUNK_BYTES = 1 << 16
ATTEMPTS = 3
TIMEOUT_S = 30.0
_USER_AGENT = 'instance_segmentation_ros model download'


class ZooError(InstanceSegmentationError):
    """A model that cannot be found, downloaded, verified or unpacked; says what to do."""


@dataclass(frozen=True)
class ZooModel:
    """One Mask R-CNN of the zoos, with the figures the zoo pages publish.

    ``speed_ms`` and ``box_map``/``mask_map`` (COCO mAP) are the zoo's own figures: TF1 on a
    GTX TITAN X at 600x600, TF2 at 1024x1024 on the TF2 zoo's benchmark GPU. ``size_mb`` is
    the archive size where known and ``sha256`` its checksum where known (the zoos publish
    none, so the archive's structure is what is verified then).
    """

    name: str
    family: str
    archive: str
    speed_ms: int
    box_map: float
    mask_map: float | None = None
    size_mb: float | None = None
    sha256: str | None = None

    def url(self, url_base: str | None = None) -> str:
        """The archive's URL under `url_base`, or under the zoo's own."""
        return (url_base or DEFAULT_URL_BASE).rstrip('/') + '/' + self.archive


def _tf1(name: str, speed_ms: int, box_map: float) -> ZooModel:
    return ZooModel(name, 'TF1', f'{name}.tar.gz', speed_ms, box_map)


def _tf2(name: str, speed_ms: int, box_map: float, mask_map: float) -> ZooModel:
    return ZooModel(name, 'TF2', f'tf2/20200711/{name}.tar.gz', speed_ms, box_map, mask_map)


CATALOGUE: dict[str, ZooModel] = {model.name: model for model in (
    _tf1('mask_rcnn_inception_v2_coco_2018_01_28', 79, 25.0),
    _tf1('mask_rcnn_resnet50_atrous_coco_2018_01_28', 343, 29.0),
    _tf1('mask_rcnn_resnet101_atrous_coco_2018_01_28', 470, 33.0),
    _tf1('mask_rcnn_inception_resnet_v2_atrous_coco_2018_01_28', 771, 36.0),
    _tf2('mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8', 301, 39.0, 34.6),
)}
"""The Mask R-CNN models of the TF1 and TF2 detection model zoos, by name."""


def download_base(url_base: str | None = None, insecure: bool = False) -> str:
    """The URL base to download from: `url_base`, $INSTANCE_SEGMENTATION_ZOO_URL or the zoo's.

    ZooError for plain http unless `insecure` (--insecure) allows it.
    """
    if url_base:
        base, named = url_base, f'--url-base {url_base}'
    elif os.environ.get(URL_BASE_ENV):
        base = os.environ[URL_BASE_ENV]
        named = f'${URL_BASE_ENV} ({base})'
    else:
        return DEFAULT_URL_BASE
    scheme = _scheme(base)
    if scheme == 'http' and not insecure:
        raise ZooError(f'{named} is plain http, on which anyone on the way can swap the '
                       f'archive: use an https mirror, or pass --insecure to download over '
                       f'http anyway')
    if scheme not in ('https', 'http', 'file'):
        raise ZooError(f'{named} is not an https:// URL')
    return base


def cache_dir(environ=None) -> Path:
    """The folder models are downloaded into (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if environ.get('ROS_HOME'):
        root = Path(environ['ROS_HOME']).expanduser()
    else:
        root = Path(environ.get('XDG_CACHE_HOME') or Path.home() / '.cache').expanduser()
    return root / 'instance_segmentation_ros' / 'models'


def lookup(name: str) -> ZooModel:
    """The catalogue entry called `name`; ZooError listing the known names otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ZooError(f'unknown model {name!r}; known models: {", ".join(CATALOGUE)} '
                       f'(see list-models)') from None


def downloaded_model(name: str, directory: str | os.PathLike | None = None) -> Path | None:
    """The folder of catalogue model `name` when it has been downloaded, else None."""
    if name not in CATALOGUE:
        return None
    folder = Path(directory) if directory is not None else cache_dir()
    folder = folder / name
    return folder if model_in_folder(folder) else None


def not_downloaded_hint(name: str) -> str:
    """Advice for a model path that does not exist but is a catalogue name ('' otherwise)."""
    if name not in CATALOGUE:
        return ''
    return (f'; it is a zoo model name but not downloaded into {cache_dir()}: run '
            f'`instance-segmentation download-model {name}` first')


Progress = Callable[[int, 'int | None'], None]
"""Called with (bytes so far, total bytes or None) as a download advances."""


def download(name: str, directory: str | os.PathLike | None = None, url_base: str | None = None,
             sha256: str | None = None, progress: Progress | None = None,
             log: Callable[[str], None] | None = None, attempts: int = ATTEMPTS,
             timeout: float = TIMEOUT_S, insecure: bool = False) -> Path:
    """Download, verify and unpack catalogue model `name`; return its folder (the model_path).

    A model already unpacked there is returned without any network access. The archive comes
    from under `download_base(url_base, insecure)`. `sha256` overrides the catalogue's
    checksum. A transfer cut short is resumed up to `attempts` times in this call; when it
    still fails, the `.part` file stays so that the next call resumes it.
    """
    model = lookup(name)
    log = log or (lambda message: None)
    folder = Path(directory).expanduser() if directory is not None else cache_dir()
    target = folder / name
    if model_in_folder(target):
        log(f'{name} is already downloaded')
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ZooError(f'cannot create the model folder {folder}: '
                       f'{error.strerror or error}') from error
    archive = folder / f'{name}.tar.gz'
    if archive.is_file():
        log(f'using the archive downloaded before: {archive}')
    else:
        part = archive.with_name(archive.name + '.part')
        fetch(model.url(download_base(url_base, insecure)), part, progress=progress,
              log=log, attempts=attempts, timeout=timeout, insecure=insecure)
        os.replace(part, archive)
    actual = file_sha256(archive)
    expected = sha256 or model.sha256
    record = folder / f'{name}.tar.gz.sha256'
    recorded = record.read_text().split()[0] if record.is_file() else None
    if expected and actual.lower() != expected.lower():
        archive.unlink()
        raise ZooError(f'checksum mismatch for {name}: expected sha256 {expected}, got '
                       f'{actual}; the download was deleted, run the command again')
    if not expected and recorded and actual != recorded:
        archive.unlink()
        raise ZooError(f'the archive of {name} differs from the one first downloaded into '
                       f'{folder} (sha256 {recorded}, now {actual}): refused and deleted; if '
                       f'the zoo really replaced it, pass --sha256 {actual}')
    path = unpack(archive, folder, name)
    archive.unlink()
    if recorded != actual:
        record.write_text(f'{actual}  {name}.tar.gz\n')
        if not expected:
            log(f'{name} has no published checksum: recorded sha256 {actual} in {record}; '
                'later downloads into this folder must match it (trust on first use)')
    return path


def fetch(url: str, part: Path, progress: Progress | None = None,
          log: Callable[[str], None] | None = None, attempts: int = ATTEMPTS,
          timeout: float = TIMEOUT_S, insecure: bool = False) -> None:
    """Download `url` into `part`, resuming what `part` already holds.

    A redirect from https to plain http is refused unless `insecure`.
    """
    log = log or (lambda message: None)
    failure = ''
    for attempt in range(1, attempts + 1):
        try:
            if _fetch_once(url, part, progress, log, timeout, insecure):
                return
            failure = 'the server restarted the transfer at the wrong offset'
        except (http.client.HTTPException, ConnectionError, TimeoutError) as error:
            failure = _reason(error)
        except urllib.error.HTTPError as error:
            raise ZooError(f'cannot download {url}: HTTP {error.code} {error.reason}') from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError) and attempt < attempts:
                failure = _reason(error.reason)
            else:
                raise ZooError(f'cannot download {url}: {_reason(error.reason)} (offline? use '
                               f'--url-base or ${URL_BASE_ENV} for a mirror)') from error
        except OSError as error:  # the disk, not the network
            raise ZooError(f'cannot write {part}: {error.strerror or error}') from error
        if attempt < attempts:
            log(f'transfer interrupted ({failure}); resuming')
    size = part.stat().st_size if part.exists() else 0
    raise ZooError(f'download of {url} interrupted after {_megabytes(size)} ({failure}); run '
                   f'the same command again to resume')


def _fetch_once(url: str, part: Path, progress: Progress | None, log, timeout: float,
                insecure: bool) -> bool:
    """One request: True when `part` is complete, False when it must be started afresh."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {'User-Agent': _USER_AGENT}
    if offset:
        headers['Range'] = f'bytes={offset}-'
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the part file does not fit the archive any more
            log('the partial download does not match the archive; restarting')
            part.unlink()
            return False
        raise
    with response:
        if (_scheme(url) == 'https' and _scheme(response.url) == 'http') and not insecure:
            raise ZooError(f'{url} redirected to plain http ({response.url}): refused; pass '
                           f'--insecure to allow it')
        length = response.headers.get('Content-Length')
        length = int(length) if length and length.isdigit() else None
        if offset and response.status == 206:
            start = _content_range_start(response.headers.get('Content-Range', ''))
            if start != offset:
                part.unlink()
                return False
            log(f'resuming at {_megabytes(offset)}')
            mode = 'ab'
        else:
            if offset:
                log('the server does not resume downloads; restarting from the beginning')
            offset, mode = 0, 'wb'
        total = offset + length if length is not None else None
        done = offset
        if progress:
            progress(done, total)
        with open(part, mode) as stream:
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                stream.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b'', total - done)
    return True


def _scheme(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme.lower()


def _content_range_start(header: str) -> int | None:
    """The first byte of a `Content-Range: bytes a-b/n` header."""
    unit, _, rest = header.strip().partition(' ')
    start = rest.partition('-')[0]
    return int(start) if unit == 'bytes' and start.isdigit() else None


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def unpack(archive: Path, folder: Path, name: str) -> Path:
    """Unpack a zoo tarball safely into `folder / name`; the archive is deleted if unusable."""
    staging = Path(tempfile.mkdtemp(prefix=f'.{name}.', dir=folder))
    try:
        try:
            with tarfile.open(archive, 'r:*') as tar:
                members = tar.getmembers()
                unsafe = next(filter(None, map(_unsafe, members)), None)
                if unsafe:
                    archive.unlink()
                    raise ZooError(f'archive {archive.name} holds {unsafe}; refusing to unpack '
                                   f'it (deleted)')
                if hasattr(tarfile, 'data_filter'):
                    tar.extractall(staging, members=members, filter='data')
                else:  # Python without extraction filters: the checks above must do
                    tar.extractall(staging, members=members)
        except (tarfile.TarError, EOFError, OSError, ValueError) as error:
            archive.unlink(missing_ok=True)
            raise ZooError(f'archive {archive.name} is corrupt ({_reason(error)}); it was '
                           f'deleted, run the command again to download it afresh') from error
        model_folder = _find_model_folder(staging)
        if model_folder is None:
            archive.unlink(missing_ok=True)
            raise ZooError(f'archive {archive.name} holds no saved_model/ or '
                           f'{FROZEN_GRAPH_NAME}: not a zoo model; it was deleted')
        target = folder / name
        if target.exists():  # an unusable leftover: it held no model
            shutil.rmtree(target)
        os.replace(model_folder, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unsafe(member: tarfile.TarInfo) -> str:
    """What is wrong with a member that would land outside the target folder, or ''."""
    for text in (member.name, member.linkname if member.issym() or member.islnk() else ''):
        path = PurePosixPath(text)
        if path.is_absolute() or '..' in path.parts:
            return f'the unsafe path {text!r}'
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return f'the special file {member.name!r}'
    return ''


def _find_model_folder(root: Path) -> Path | None:
    """The folder of an unpacked archive that holds the model (usually its one top folder)."""
    if model_in_folder(root):
        return root
    for depth_one in sorted(p for p in root.iterdir() if p.is_dir()):
        if model_in_folder(depth_one):
            return depth_one
    return None


def _megabytes(size: int) -> str:
    return f'{size / 1e6:.1f} MB'


def _reason(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    if isinstance(error, http.client.IncompleteRead):
        return 'connection closed early'
    if isinstance(error, TimeoutError):
        return 'timed out'
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
