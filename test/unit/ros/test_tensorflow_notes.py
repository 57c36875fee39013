"""tensorflow_notes: which of TensorFlow's native log lines the nodes hide, by level."""

import pytest

from instance_segmentation_ros.ros.tensorflow_notes import (
    ABSL_BANNER,
    is_hidden,
    tensorflow_log_level,
)

ONEDNN_ON = (b'I0000 00:00:1796623046.507252   13742 port.cc:153] oneDNN custom operations are '
             b'on. You may see slightly different numerical results due to floating-point '
             b'round-off errors from different computation orders.')
DT_BOOL = (b'E0000 00:00:1796622225.300359   19938 util.cc:131] oneDNN supports DT_BOOL only on '
           b'platforms with AVX-512. Falling back to the default Eigen-based implementation if '
           b'present.')
WARNING = b'W1207 05:43:24.852665    123 cuda_dnn.cc:8310] Unable to register cuDNN factory'
ERROR = b'E1207 05:43:24.852665    123 gpu_device.cc:2344] Cannot dlopen some GPU libraries.'
FATAL = b'F1207 05:43:24.852665    123 status.cc:42] Check failed: ok'


@pytest.mark.parametrize('line, hidden_from', [
    (ONEDNN_ON, 1), (ABSL_BANNER, 2), (WARNING, 2), (DT_BOOL, 2), (ERROR, 3), (FATAL, None),
], ids=['info', 'banner', 'warning', 'dt-bool-note', 'error', 'fatal'])
def test_tensorflow_lines_are_hidden_below_the_level(line, hidden_from):
    for level in range(4):
        expected = hidden_from is not None and level >= hidden_from
        assert is_hidden(line, level) == expected, level


@pytest.mark.parametrize('line', [
    b'[ERROR] [1796622225.300359] [segmentation_node]: cannot load model',
    b'Traceback (most recent call last):',
    b'E0000 is not how this line goes on',
    b'',
])
def test_other_lines_pass_at_every_level(line):
    assert not any(is_hidden(line, level) for level in range(4))


@pytest.mark.parametrize('value, level', [
    (None, 2), ('', 2), ('0', 0), ('1', 1), ('3', 3), (' 2 ', 2), ('verbose', 0),
])
def test_the_users_level_wins(value, level):
    environ = {} if value is None else {'TF_CPP_MIN_LOG_LEVEL': value}
    assert tensorflow_log_level(environ) == level
