"""Tests for core.labels: the built-in COCO map, .pbtxt and text files."""

import pytest

from instance_segmentation_ros.core.labels import (
    LabelMap,
    LabelMapError,
    coco_label_map,
    load_label_map,
    parse_lines,
    parse_pbtxt,
)

# Written down independently of the shipped data file (COCO 2017 instance categories).
COCO_NAMES = {
    1: 'person', 2: 'bicycle', 3: 'car', 4: 'motorcycle', 5: 'airplane', 6: 'bus', 7: 'train',
    8: 'truck', 9: 'boat', 10: 'traffic light', 11: 'fire hydrant', 13: 'stop sign',
    14: 'parking meter', 15: 'bench', 16: 'bird', 17: 'cat', 18: 'dog', 19: 'horse', 20: 'sheep',
    21: 'cow', 22: 'elephant', 23: 'bear', 24: 'zebra', 25: 'giraffe', 27: 'backpack',
    28: 'umbrella', 31: 'handbag', 32: 'tie', 33: 'suitcase', 34: 'frisbee', 35: 'skis',
    36: 'snowboard', 37: 'sports ball', 38: 'kite', 39: 'baseball bat', 40: 'baseball glove',
    41: 'skateboard', 42: 'surfboard', 43: 'tennis racket', 44: 'bottle', 46: 'wine glass',
    47: 'cup', 48: 'fork', 49: 'knife', 50: 'spoon', 51: 'bowl', 52: 'banana', 53: 'apple',
    54: 'sandwich', 55: 'orange', 56: 'broccoli', 57: 'carrot', 58: 'hot dog', 59: 'pizza',
    60: 'donut', 61: 'cake', 62: 'chair', 63: 'couch', 64: 'potted plant', 65: 'bed',
    67: 'dining table', 70: 'toilet', 72: 'tv', 73: 'laptop', 74: 'mouse', 75: 'remote',
    76: 'keyboard', 77: 'cell phone', 78: 'microwave', 79: 'oven', 80: 'toaster', 81: 'sink',
    82: 'refrigerator', 84: 'book', 85: 'clock', 86: 'vase', 87: 'scissors', 88: 'teddy bear',
    89: 'hair drier', 90: 'toothbrush',
}
COCO_MISSING_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)

# The layout of the Object Detection API's own data/mscoco_label_map.pbtxt (first items).
ZOO_PBTXT = """item {
  name: "/m/01g317"
  id: 1
  display_name: "person"
}
item {
  name: "/m/0199g"
  id: 2
  display_name: "bicycle"
}
item {
  name: "/m/0k4j"
  id: 3
  display_name: "car"
}
"""

# Newer OD API label maps carry keypoints and other nested or enum fields.
KEYPOINT_PBTXT = """
item {
  id: 1
  name: "/m/01g317"
  display_name: "person"
  keypoints {
    id: 0
    label: "nose"
  }
  keypoints {
    id: 1
    label: "left_eye"
  }
  frequency: FREQUENT
  instance_count: 262465
}
item {
  keypoints: { id: 7 label: "tail" }
  display_name: "dog"
  id: 18
}
"""


@pytest.fixture(scope='module')
def coco():
    return coco_label_map()


# --- built-in COCO map ---------------------------------------------------------------------

def test_coco_map_has_80_names_with_ids_1_to_90(coco):
    assert len(coco.names) == 80
    assert min(coco.names) == 1 and max(coco.names) == 90
    assert set(range(1, 91)) - set(coco.names) == set(COCO_MISSING_IDS)


def test_coco_map_names_match_coco_2017(coco):
    assert coco.names == COCO_NAMES


@pytest.mark.parametrize('class_id', COCO_MISSING_IDS + (0, 91, 255))
def test_unknown_ids_get_a_placeholder_name(coco, class_id):
    assert coco.name(class_id) == f'class_{class_id}'


def test_name_accepts_numpy_and_float_ids(coco):
    np = pytest.importorskip('numpy')
    assert coco.name(np.int64(1)) == 'person'
    assert coco.name(np.float32(18.0)) == 'dog'
    assert coco.name(12) == 'class_12'


@pytest.mark.parametrize('path', ['', None])
def test_empty_path_gives_builtin_coco_map(path, coco):
    assert load_label_map(path).names == coco.names


# --- .pbtxt --------------------------------------------------------------------------------

def test_pbtxt_real_zoo_layout_prefers_display_name():
    label_map = parse_pbtxt(ZOO_PBTXT)
    assert label_map.names == {1: 'person', 2: 'bicycle', 3: 'car'}


def test_pbtxt_name_used_when_no_display_name():
    assert parse_pbtxt('item { id: 4 name: "motorcycle" }').names == {4: 'motorcycle'}


def test_pbtxt_without_any_name_gets_placeholder():
    assert parse_pbtxt('item { id: 7 }').names == {7: 'class_7'}


@pytest.mark.parametrize('text', [
    "item { id: 1 name: 'cat' }",
    'item { id: 1 name: "cat" }',
    "item{id:1 name:'cat'}",
    'item {\n\tname:\n"cat"\n\tid :\n1\n}',
    'item { display_name: "cat" id: 1 name: "/m/01yrx" }',
    'item { name: "/m/01yrx" display_name: \'cat\' id: 1 }',
])
def test_pbtxt_quotes_whitespace_and_field_order(text):
    assert parse_pbtxt(text).names == {1: 'cat'}


def test_pbtxt_names_with_spaces_and_other_quote_inside():
    text = """item { id: 1 display_name: "teddy bear" }
              item { id: 2 display_name: 'it"s' }
              item { id: 3 display_name: "it's" }"""
    assert parse_pbtxt(text).names == {1: 'teddy bear', 2: 'it"s', 3: "it's"}


def test_pbtxt_comments_are_ignored():
    text = """# a label map
    item {  # first
      id: 1  # the id
      # name: "wrong"
      name: "cat"  # trailing
    }
    # item { id: 2 name: "commented out" }
    """
    assert parse_pbtxt(text).names == {1: 'cat'}


def test_pbtxt_hash_inside_quotes_is_not_a_comment():
    assert parse_pbtxt('item { id: 1 name: "no #1" }').names == {1: 'no #1'}


def test_pbtxt_nested_blocks_are_skipped():
    label_map = parse_pbtxt(KEYPOINT_PBTXT)
    # The keypoints' own `id` and `label` fields must not leak into the item.
    assert label_map.names == {1: 'person', 18: 'dog'}


def test_pbtxt_ids_need_not_be_contiguous_or_ordered():
    text = 'item { id: 90 name: "z" } item { id: 3 name: "c" } item { id: 40 name: "m" }'
    assert parse_pbtxt(text).names == {90: 'z', 3: 'c', 40: 'm'}


@pytest.mark.parametrize('text', [
    'item: { id: 1 name: "cat" }',
    'item { id: 1, name: "cat" }',
    'item { id: 1; name: "cat"; }',
    r'item { id: 1 name: "\"cat\"" }',
])
def test_pbtxt_other_valid_text_format_spellings(text):
    assert parse_pbtxt(text).names[1].strip('"') == 'cat'


def test_pbtxt_file_via_load_label_map(tmp_path):
    path = tmp_path / 'map.pbtxt'
    path.write_text(ZOO_PBTXT, encoding='utf-8')
    assert load_label_map(path).names == {1: 'person', 2: 'bicycle', 3: 'car'}
    assert load_label_map(str(path)).names == {1: 'person', 2: 'bicycle', 3: 'car'}


def test_prototxt_suffix_and_upper_case_suffix_are_pbtxt(tmp_path):
    for name in ('map.prototxt', 'MAP.PBTXT'):
        path = tmp_path / name
        path.write_text('item { id: 5 display_name: "airplane" }', encoding='utf-8')
        assert load_label_map(path).names == {5: 'airplane'}


@pytest.mark.parametrize('text, message', [
    ('item { id: 1 name: "cat"', 'unterminated'),
    ('item { id: 1 name: "cat" ', 'unterminated'),
    ('item { name: "cat" }', 'no id'),
    ('item { id: one name: "cat" }', 'not an integer'),
    ('item { id 1 name: "cat" }', 'malformed field'),
    ('item { id: 1 name "cat" }', 'malformed field'),
    ('label { id: 1 name: "cat" }', 'expected "item {"'),
    ('item', 'expected "item {"'),
    ('item { id: 1 } }', 'expected "item {"'),
    ('id: 1 name: "cat"', 'expected "item {"'),
])
def test_malformed_pbtxt_raises_useful_error(text, message):
    with pytest.raises(LabelMapError, match='my.pbtxt') as caught:
        parse_pbtxt(text, source='my.pbtxt')
    assert message in str(caught.value)


def test_malformed_pbtxt_file_names_the_file(tmp_path):
    path = tmp_path / 'broken.pbtxt'
    path.write_text('item { id: 1 name: "cat"\n', encoding='utf-8')
    with pytest.raises(LabelMapError, match='broken.pbtxt'):
        load_label_map(path)


# --- plain text, one name per line ---------------------------------------------------------

def test_text_lines_are_ids_from_one():
    assert parse_lines('person\nbicycle\ncar\n').names == {1: 'person', 2: 'bicycle', 3: 'car'}


def test_text_blank_lines_leave_ids_unused():
    label_map = parse_lines('person\n\ncar\n   \n\nbus')
    assert label_map.names == {1: 'person', 3: 'car', 6: 'bus'}
    assert label_map.name(2) == 'class_2'


def test_text_names_are_stripped_and_crlf_is_handled():
    assert parse_lines('  teddy bear  \r\n\tcup\r\n').names == {1: 'teddy bear', 2: 'cup'}


@pytest.mark.parametrize('suffix', ['.txt', '.names', '.labels', ''])
def test_text_file_via_load_label_map(tmp_path, suffix):
    path = tmp_path / f'labels{suffix}'
    path.write_text('person\n\ncar\n', encoding='utf-8')
    assert load_label_map(path).names == {1: 'person', 3: 'car'}


def test_text_file_path_with_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / 'labels.txt').write_text('a\nb\n', encoding='utf-8')
    assert load_label_map('~/labels.txt').names == {1: 'a', 2: 'b'}


def test_byte_order_mark_is_ignored_in_text_files(tmp_path):
    path = tmp_path / 'labels.txt'
    path.write_bytes(b'\xef\xbb\xbf' + b'person\ncar\n')
    assert load_label_map(path).names == {1: 'person', 2: 'car'}


# --- unreadable and empty files ------------------------------------------------------------

def test_missing_file_raises(tmp_path):
    with pytest.raises(LabelMapError, match='cannot read label map .*nope.txt'):
        load_label_map(tmp_path / 'nope.txt')


def test_directory_raises(tmp_path):
    with pytest.raises(LabelMapError, match='cannot read label map'):
        load_label_map(tmp_path)


def test_binary_file_raises(tmp_path):
    path = tmp_path / 'labels.txt'
    path.write_bytes(b'\xff\xfe\x00\x81\x8d binary')
    with pytest.raises(LabelMapError, match='cannot read label map'):
        load_label_map(path)


@pytest.mark.parametrize('name, text', [
    ('empty.txt', ''),
    ('blank.txt', '\n  \n\t\n'),
    ('empty.pbtxt', ''),
    ('comments.pbtxt', '# nothing here\n# at all\n'),
])
def test_empty_file_raises(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    with pytest.raises(LabelMapError, match='holds no classes'):
        load_label_map(path)


# --- resolve -------------------------------------------------------------------------------

@pytest.mark.parametrize('entries, expected', [
    ([], set()),
    ((), set()),
    (['person'], {1}),
    (['PERSON', 'Dog'], {1, 18}),
    (['  cat  '], {17}),
    (['teddy bear', 'Traffic Light'], {88, 10}),
    (['1', '18'], {1, 18}),
    ([1, 18, 90], {1, 18, 90}),
    (['person', 1, '1'], {1}),
    (['dog', 3], {18, 3}),
])
def test_resolve_names_and_ids(coco, entries, expected):
    assert coco.resolve(entries) == frozenset(expected)


def test_resolve_returns_frozenset(coco):
    assert isinstance(coco.resolve(['person']), frozenset)
    assert isinstance(coco.resolve([]), frozenset)


@pytest.mark.parametrize('entries, unknown', [
    (['persn'], 'persn'),
    (['person', 'unicorn'], 'unicorn'),
    (['12'], '12'),  # an id the map does not use
    ([0], '0'),
    (['91'], '91'),
    (['-1'], '-1'),
    (['class_12'], 'class_12'),
])
def test_resolve_unknown_lists_valid_names(coco, entries, unknown):
    with pytest.raises(LabelMapError) as caught:
        coco.resolve(entries)
    message = str(caught.value)
    assert repr(unknown) in message
    for name in ('person', 'toothbrush', 'teddy bear', 'traffic light'):
        assert name in message


def test_resolve_reports_every_unknown_entry(coco):
    with pytest.raises(LabelMapError) as caught:
        coco.resolve(['unicorn', 'person', 'dragon'])
    assert "'unicorn'" in str(caught.value) and "'dragon'" in str(caught.value)


def test_resolve_on_a_custom_map():
    label_map = LabelMap({1: 'Widget', 5: 'Gadget'})
    assert label_map.resolve(['widget', 'GADGET']) == {1, 5}
    assert label_map.resolve(['5']) == {5}
    with pytest.raises(LabelMapError, match='Widget, Gadget'):
        label_map.resolve(['2'])


def test_resolve_prefers_id_for_digit_entries():
    # A class whose name is a number: the id meaning wins when the id exists.
    label_map = LabelMap({1: '2', 2: 'two'})
    assert label_map.resolve(['2']) == {2}
    assert label_map.resolve([2]) == {2}
