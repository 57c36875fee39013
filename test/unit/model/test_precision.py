"""The precision setting: its check, the CPU flags it reads, auto's rule, and the fallbacks."""

from pathlib import Path

import numpy as np
import pytest
from tiny_models import draw_scene, export_tf2_od_saved_model

from instance_segmentation_ros.model.layout import ModelError, ModelSource
from instance_segmentation_ros.model.precision import (
    check_precision,
    choose_by_timing,
    native_bfloat16,
    read_cpu_flags,
)
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

WITHOUT_BFLOAT16 = frozenset({'avx2', 'avx512f'})
WITH_BFLOAT16 = frozenset({'avx2', 'avx512f', 'avx512_bf16'})


@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny') / 'saved_model'
    return ModelSource(Path(export_tf2_od_saved_model(folder)),
                       'saved_model')


@pytest.fixture(scope='module')
def steady_model(tmp_path_factory):
    """A model whose every call takes 20 ms whatever the arithmetic: bf16 is no faster."""
    folder = tmp_path_factory.mktemp('steady') / 'saved_model'
    return ModelSource(Path(
        export_tf2_od_saved_model(folder, compute_seconds=0.02)), 'saved_model')


def test_precision_values_are_checked_in_one_line():
    assert check_precision(' BF16 ') == 'bf16'
    with pytest.raises(ModelError) as error:
        check_precision('half')
    assert str(error.value) == "precision 'half' is not one of auto, fp32, bf16"


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n\n'
                       'processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n')
    flags = read_cpu_flags(cpuinfo)
    assert native_bfloat16(flags) == ['avx512_bf16', 'amx_bf16']
    assert read_cpu_flags(tmp_path / 'missing') == frozenset()
    assert native_bfloat16(WITHOUT_BFLOAT16) == []


def test_auto_takes_bf16_only_when_clearly_faster():
    assert choose_by_timing(0.871, 0.412) == (
        True, 'precision auto: bf16 (412 ms against 871 ms fp32 at warm-up)')
    assert choose_by_timing(0.044, 0.063) == (
        False, 'precision auto: fp32 (bf16 took 63 ms against 44 ms fp32 at warm-up)')
    assert choose_by_timing(0.100, 0.095)[0] is False  # 5 % is within timing noise


@pytest.mark.parametrize('precision, note', [
    ('bf16', 'precision bf16: this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 '
             'flag): running fp32'),
    ('auto', 'precision auto: fp32 (this CPU has no native bfloat16 (no avx512_bf16 or '
             'amx_bf16 flag))'),
    ('fp32', 'precision fp32'),
])
def test_without_native_bfloat16_the_model_runs_fp32_and_says_so(tiny_model, precision, note):
    model = SegmentationModel(tiny_model, 'cpu', precision=precision, cpu_flags=WITHOUT_BFLOAT16)
    model.warm_up(60, 80)
    assert not model.bfloat16
    assert model.precision_note == note


def test_an_invalid_precision_is_refused_before_loading(tiny_model):
    with pytest.raises(ModelError, match="precision 'fp16' is not one of auto, fp32, bf16"):
        SegmentationModel(tiny_model, 'cpu', precision='fp16')


def test_bf16_with_native_support_runs_bfloat16(tiny_model):
    model = SegmentationModel(tiny_model, 'cpu', precision='bf16', cpu_flags=WITH_BFLOAT16)
    assert model.bfloat16
    assert model.precision_note == 'precision bf16: bfloat16 on this CPU (avx512_bf16)'


def test_auto_keeps_fp32_for_a_model_that_bf16_does_not_speed_up(steady_model):
    model = SegmentationModel(steady_model, 'cpu', precision='auto', cpu_flags=WITH_BFLOAT16)
    assert model.precision_note == 'precision auto: fp32 until the warm-up times bf16 against it'
    model.warm_up(60, 80)
    assert not model.bfloat16
    assert model.precision_note.startswith('precision auto: fp32 (bf16 took ')


def test_bf16_results_are_close_to_fp32(tiny_model):
    rgb, _ = draw_scene()
    fp32 = SegmentationModel(tiny_model, 'cpu').predict(rgb)
    bf16 = SegmentationModel(tiny_model, 'cpu', precision='bf16',
                             cpu_flags=WITH_BFLOAT16).predict(rgb)
    np.testing.assert_array_equal(bf16.classes, fp32.classes)
    np.testing.assert_allclose(bf16.boxes, fp32.boxes, atol=0.01)
    np.testing.assert_allclose(bf16.scores, fp32.scores, atol=0.01)
    np.testing.assert_allclose(bf16.masks, fp32.masks, atol=0.02)
