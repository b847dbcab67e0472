"""The index coders of both frameworks: round trips of any length, one symbol included
(CompressAI's rANS encoder aborts the process on a string of one symbol unless the coder
works around it), and the same symbols from the same rows in PyTorch and TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from codecbench.codecs.learned.entropy import categorical_codes

ROWS = categorical_codes.cumulative(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))


def coders():
    found = []
    try:
        import compressai  # noqa: F401

        from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
        found.append(RansIndexCoder())
    except ImportError:
        pass
    try:
        import tensorflow_compression  # noqa: F401

        from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
        found.append(RangeIndexCoder())
    except ImportError:
        pass
    return found


@pytest.mark.parametrize("count", [1, 2, 3, 50])
def test_round_trip_of_every_length(count):
    available = coders()
    if not available:
        pytest.skip("neither compressai nor tensorflow-compression installed")
    rng = np.random.default_rng(count)
    indexes = rng.integers(0, 2, count)
    symbols = np.array([rng.choice(3, p=[0.7, 0.2, 0.1] if i == 0 else [0.1, 0.1, 0.8])
                        for i in indexes])
    for coder in available:
        tables = coder.tables(ROWS)
        string = coder.encode(symbols, indexes, tables)
        decoded = coder.decode(string, indexes, tables, 3, "test")
        assert decoded.tolist() == symbols.tolist(), type(coder).__name__


def test_one_symbol_does_not_abort_the_process():
    """In a child process: an abort would take the test runner with it."""
    pytest.importorskip("compressai")
    code = ("import numpy as np\n"
            "from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder\n"
            "coder = RansIndexCoder()\n"
            "tables = coder.tables(np.array([[0, 30000, 65536]]))\n"
            "string = coder.encode(np.array([1]), np.array([0]), tables)\n"
            "print(coder.decode(string, np.array([0]), tables, 2, 'one').tolist())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().splitlines()[-1] == "[1]"
