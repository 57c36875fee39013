"""Recorded bags opened for the bag command: rosbag2 (sqlite3, mcap) and ROS 1, cut-off ones too.

Everything is read through `rosbags.highlevel.AnyReader`. A rosbag2 bag that a crash or a
full disk cut off is first given what AnyReader needs, in a scratch folder beside nothing of
the input (the input is never changed):

- no ``metadata.yaml`` (the recorder never closed the bag): one is made from the storage
  files themselves, their topics, types, QoS and message counts;
- an mcap file that ends in the middle (no summary, no footer): a copy of it up to the last
  whole record, with an end added, so that every message written in full is read and the
  torn record (and the rest of its chunk) is reported as lost.
"""

from __future__ import annotations

import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2.metadata import dump_qos_v8
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
from rosbags.typesys import Stores, get_typestore

from ..errors import InstanceSegmentationError

STORAGES = {'.mcap': 'mcap', '.db3': 'sqlite3'}
MCAP_MAGIC = b'\x89MCAP0\r\n'
_DATA_END = b'\x0f' + struct.pack('<Q', 4) + struct.pack('<I', 0)
_FOOTER = b'\x02' + struct.pack('<Q', 20) + struct.pack('<QQI', 0, 0, 0)


class BagReadError(InstanceSegmentationError):
    """A bag that cannot be read at all; the message says why in one line."""


@dataclass
class OpenedBag:
    """An open AnyReader, the input's storage ('sqlite3', 'mcap' or 'ros1') and repair notes."""

    reader: AnyReader
    storage: str
    notes: list[str] = field(default_factory=list)  # what was missing or cut off, and lost


@contextmanager
def open_bag(path: Path):
    """The bag at `path` opened for reading (repaired in a scratch folder where cut off).

    BagReadError when it is no bag, or nothing of it can be read.
    """
    default = get_typestore(Stores.ROS2_JAZZY)  # for bags that carry no message definitions
    if not path.exists():
        raise BagReadError(f'{path} does not exist')
    if path.is_file() and path.suffix == '.bag':
        with _opened(AnyReader([path], default_typestore=default), path) as reader:
            yield OpenedBag(reader, 'ros1')
        return
    if not path.is_dir():
        raise BagReadError(f'{path} is neither a rosbag2 folder nor a ROS 1 .bag file')
    files = sorted(p for p in path.iterdir() if p.suffix in STORAGES)
    if not files:
        raise BagReadError(f'{path} holds no .mcap or .db3 storage file: not a rosbag2 bag')
    storage = STORAGES[files[0].suffix]
    torn = [p for p in files if p.suffix == '.mcap' and not _mcap_ends_whole(p)]
    if (path / 'metadata.yaml').is_file() and not torn:
        with _opened(AnyReader([path], default_typestore=default), path) as reader:
            yield OpenedBag(reader, storage)
        return
    with tempfile.TemporaryDirectory(prefix='instance_segmentation_bag_') as scratch:
        repaired = Path(scratch) / path.name
        repaired.mkdir()
        notes = [] if (path / 'metadata.yaml').is_file() else [
            'metadata.yaml is missing (the recording was not closed): topics read from the '
            'storage files']
        for source in files:
            if source in torn:
                notes.append(_repair_mcap(source, repaired / source.name))
            else:
                (repaired / source.name).symlink_to(source.absolute())
        _write_metadata(repaired, [repaired / p.name for p in files], storage)
        with _opened(AnyReader([repaired], default_typestore=default), path) as reader:
            yield OpenedBag(reader, storage, notes)


@contextmanager
def _opened(reader: AnyReader, path: Path):
    try:
        reader.open()
    except (AnyReaderError, OSError, KeyError, ValueError) as error:
        raise BagReadError(f'cannot read bag {path}: {error_text(error)}') from None
    try:
        yield reader
    finally:
        reader.close()


def _mcap_ends_whole(path: Path) -> bool:
    """Whether an mcap file ends in its magic (a closed file); a cut-off one does not."""
    with path.open('rb') as stream:
        stream.seek(0, 2)
        if stream.tell() < 2 * len(MCAP_MAGIC):
            return False
        stream.seek(-len(MCAP_MAGIC), 2)
        return stream.read() == MCAP_MAGIC


def _repair_mcap(source: Path, target: Path) -> str:
    """Copy `source` up to its last whole record and close it; a note of what was lost."""
    size = source.stat().st_size
    with source.open('rb') as stream:
        if stream.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            raise BagReadError(f'{source.name} is not an mcap file (no mcap magic at its start)')
        end = position = len(MCAP_MAGIC)
        while True:
            head = stream.read(9)
            if len(head) < 9:
                break
            op, length = head[0], struct.unpack('<Q', head[1:])[0]
            if op in (0x0F, 0x02) or position + 9 + length > size:  # data end, footer, torn
                break
            stream.seek(length, 1)
            position = end = position + 9 + length
        stream.seek(0)
        with target.open('wb') as out:
            remaining = end
            while remaining:
                chunk = stream.read(min(remaining, 1 << 22))
                out.write(chunk)
                remaining -= len(chunk)
            out.write(_DATA_END + _FOOTER + MCAP_MAGIC)
    lost = size - end
    return (f'{source.name} is cut off: read up to byte {end} of {size}, the last '
            f'{lost} bytes (a torn record) are lost')


def _write_metadata(folder: Path, files: list[Path], storage: str):
    """A rosbag2 metadata.yaml (version 8) for storage files that lack one."""
    plugin = McapReader if storage == 'mcap' else Sqlite3Reader
    topics: dict[tuple[str, str], dict] = {}
    start, end, count = 2**63 - 1, 0, 0
    for path in files:
        reader = plugin(path)
        try:
            reader.open()
        except Exception as error:  # noqa: BLE001 - rosbags raises many kinds for a bad file
            raise BagReadError(f'cannot read {path.name}: {error_text(error)}') from None
        try:
            for connection in reader.connections:
                key = (connection.topic, connection.msgtype)
                entry = topics.setdefault(key, {'topic_metadata': {
                    'name': connection.topic, 'type': connection.msgtype,
                    'serialization_format': connection.ext.serialization_format,
                    'offered_qos_profiles': dump_qos_v8(connection.ext.offered_qos_profiles),
                    'type_description_hash': connection.digest or ''}, 'message_count': 0})
                entry['message_count'] += connection.msgcount
            if reader.metadata.message_count:
                start = min(start, reader.metadata.start_time)
                end = max(end, reader.metadata.end_time)
                count += reader.metadata.message_count
        finally:
            reader.close()
    start = start if count else 0
    metadata = {'rosbag2_bagfile_information': {
        'version': 8, 'storage_identifier': storage,
        'relative_file_paths': [p.name for p in files],
        'duration': {'nanoseconds': max(end - start, 0)},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': count, 'topics_with_message_count': list(topics.values()),
        'compression_format': '', 'compression_mode': '', 'files': []}}
    (folder / 'metadata.yaml').write_text(yaml.safe_dump(metadata, sort_keys=False))


def error_text(error: BaseException) -> str:
    """The first line of what an error says, or its type's name."""
    text = ' '.join(str(part) for part in getattr(error, 'args', ()) if part) or str(error)
    return (text.strip() or type(error).__name__).splitlines()[0]
