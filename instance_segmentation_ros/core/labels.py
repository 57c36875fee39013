"""Label maps: class id <-> class name, from the built-in COCO map, a `.pbtxt` or a text file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import data_file
from ..errors import InstanceSegmentationError

COCO_LABEL_MAP_RESOURCE = 'mscoco_label_map.pbtxt'

_TOKEN = re.compile(
    r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(#[^\n]*|[,;])|([{}:])|([^\s{}:,;"\'#]+)')
_ESCAPE = re.compile(r'\\(.)')


class LabelMapError(InstanceSegmentationError):
    """A label map that cannot be read, or a class that is not in it."""


@dataclass(frozen=True)
class LabelMap:
    """Class ids (1-based, as the detection models emit them) and their names."""

    names: dict[int, str]

    def name(self, class_id: int) -> str:
        """Name of a class id; ids the map lacks get `class_<id>` so nothing is hidden."""
        return self.names.get(int(class_id), f'class_{int(class_id)}')

    def resolve(self, entries) -> frozenset[int]:
        """Turn class names or ids (as strings or ints) into a set of ids.

        An empty list means all classes and gives an empty set. Unknown entries raise
        LabelMapError naming them and listing the valid names.
        """
        by_name = {name.lower(): class_id for class_id, name in self.names.items()}
        ids, unknown = set(), []
        for entry in entries:
            text = str(entry).strip()
            if text.isdigit() and int(text) in self.names:
                ids.add(int(text))
            elif text.lower() in by_name:
                ids.add(by_name[text.lower()])
            else:
                unknown.append(text)
        if unknown:
            valid = ', '.join(self.names[i] for i in sorted(self.names))
            raise LabelMapError(
                f'unknown class {", ".join(map(repr, unknown))}; valid names (or their ids): '
                f'{valid}')
        return frozenset(ids)


def coco_label_map() -> LabelMap:
    """The COCO 90-id label map used by every zoo Mask R-CNN (80 ids in use)."""
    text = data_file(COCO_LABEL_MAP_RESOURCE).read_text()
    return parse_pbtxt(text)


def load_label_map(path: str | Path | None) -> LabelMap:
    """Read a label map; an empty path gives the built-in COCO map.

    `.pbtxt` files are parsed as the Object Detection API's StringIntLabelMap
    (`display_name` preferred over `name`); any other file holds one name per line,
    line 1 being class id 1 (blank lines leave an id unused).
    """
    if not path:
        return coco_label_map()
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding='utf-8-sig')  # Windows editors add a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise LabelMapError(f'cannot read label map {path}: {error}') from error
    if path.suffix.lower() in ('.pbtxt', '.prototxt'):
        label_map = parse_pbtxt(text, source=str(path))
    else:
        label_map = parse_lines(text)
    if not label_map.names:
        raise LabelMapError(f'label map {path} holds no classes')
    return label_map


def parse_lines(text: str) -> LabelMap:
    """One class name per line: line k is class id k."""
    names = {}
    for class_id, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            names[class_id] = line.strip()
    return LabelMap(names)


def parse_pbtxt(text: str, source: str = 'label map') -> LabelMap:
    """Parse the `item { id: 1 name: "..." display_name: "..." }` text format."""
    tokens = _tokenize(text)
    names = {}
    position = 0
    while position < len(tokens):
        if tokens[position] != 'item':
            raise LabelMapError(f'{source}: expected "item {{" but found {tokens[position]!r}')
        if tokens[position + 1:position + 2] == [':']:  # `item: {` is valid text format too
            position += 1
        if tokens[position + 1:position + 2] != ['{']:
            raise LabelMapError(f'{source}: expected "item {{" but the item has no brace')
        fields, position = _parse_block(tokens, position + 2, source)
        if 'id' not in fields:
            raise LabelMapError(f'{source}: an item has no id')
        try:
            class_id = int(fields['id'])
        except ValueError as error:
            raise LabelMapError(f'{source}: item id {fields["id"]!r} is not an integer') from error
        name = fields.get('display_name') or fields.get('name') or f'class_{class_id}'
        names[class_id] = name
    return LabelMap(names)


def _tokenize(text: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(text):
        double, single, separator, punct, bare = match.groups()
        if double is not None or single is not None:
            tokens.append(_ESCAPE.sub(r'\1', double if double is not None else single))
        elif separator is None:  # comments and the optional , ; between fields
            tokens.append(punct or bare)
    return tokens


def _parse_block(tokens: list[str], position: int, source: str) -> tuple[dict, int]:
    """Read `key: value` pairs up to the matching brace; nested blocks are skipped."""
    fields = {}
    while position < len(tokens):
        key = tokens[position]
        if key == '}':
            return fields, position + 1
        if tokens[position + 1:position + 2] == ['{']:
            _, position = _parse_block(tokens, position + 2, source)
            continue
        if tokens[position + 1:position + 3] == [':', '{']:
            _, position = _parse_block(tokens, position + 3, source)
            continue
        if tokens[position + 1:position + 2] != [':'] or position + 2 >= len(tokens):
            raise LabelMapError(f'{source}: malformed field near {key!r}')
        value = tokens[position + 2]
        fields.setdefault(key, value)
        position += 3
    raise LabelMapError(f'{source}: unterminated item block')
