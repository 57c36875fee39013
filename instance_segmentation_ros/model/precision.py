"""Which arithmetic a model runs in on a CPU: float32, or bfloat16 where the CPU has it natively.

bfloat16 is oneDNN's automatic mixed precision, a grappler rewrite of each function when it is
instantiated. TensorFlow offers it as a global option, but the option travels with every
function call (the thread's function call options carry the whole ConfigProto), and each
distinct config is a separate instantiation that stays cached: so each model gets its own
option, set around its own calls, and both precisions of one model can be timed side by side
after TensorFlow has started (benchmarks/README.md, precision).

On a CPU without bfloat16 instructions oneDNN emulates it, slower than float32, so `bf16`
runs float32 there. `auto` runs bfloat16 only where it is native and measured faster for the
model at warm-up (`choose_by_timing`): the built-in demo model is slower in bfloat16.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .layout import ModelError

PRECISIONS = ('auto', 'fp32', 'bf16')
NATIVE_BFLOAT16_FLAGS = ('avx512_bf16', 'amx_bf16')
"""CPU flags (as /proc/cpuinfo names them) of instructions that compute in bfloat16."""

AUTO_MARGIN = 0.1
"""`auto` takes bfloat16 only when it is at least this fraction faster: less is timing noise."""


def check_precision(text: str) -> str:
    """The precision setting (auto, fp32, bf16), or ModelError saying what it may be."""
    value = text.strip().lower()
    if value not in PRECISIONS:
        raise ModelError(f'precision {text!r} is not one of {", ".join(PRECISIONS)}')
    return value


def read_cpu_flags(cpuinfo: Path = Path('/proc/cpuinfo')) -> frozenset[str]:
    """The CPU's feature flags; none where the system has no /proc/cpuinfo."""
    try:
        text = cpuinfo.read_text(errors='replace')
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'flags':
            return frozenset(value.split())
    return frozenset()


def native_bfloat16(flags: frozenset[str]) -> list[str]:
    """The flags among `flags` that make bfloat16 native, in NATIVE_BFLOAT16_FLAGS order."""
    return [flag for flag in NATIVE_BFLOAT16_FLAGS if flag in flags]


def choose_by_timing(fp32_seconds: float, bf16_seconds: float) -> tuple[bool, str]:
    """`auto`'s choice from warm-up timings: (bfloat16 or not, the line that says why)."""
    timings = f'{bf16_seconds * 1000:.0f} ms against {fp32_seconds * 1000:.0f} ms fp32'
    if bf16_seconds < fp32_seconds * (1.0 - AUTO_MARGIN):
        return True, f'precision auto: bf16 ({timings} at warm-up)'
    return False, f'precision auto: fp32 (bf16 took {timings} at warm-up)'


class BfloatCalls:
    """Function calls in bfloat16: the thread's call options with oneDNN's AMP rewrite on.

    Calls outside `calls` keep TensorFlow's own options, so fp32 is what it always was.
    """

    def __init__(self):
        from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
        from tensorflow.python.eager import context

        self._context = context.context()
        config = config_pb2.ConfigProto.FromString(
            self._context.function_call_options.config_proto_serialized)
        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON)
        self._options = context.FunctionCallOptions(config_proto=config)

    @contextmanager
    def calls(self):
        """The function calls of the calling thread in bfloat16 for the length of the block."""
        saved = self._context.function_call_options
        self._context.function_call_options = self._options
        try:
            yield
        finally:
            self._context.function_call_options = saved
