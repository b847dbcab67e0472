"""codecbench.testing catches the faults it promises to catch, and passes good codecs."""

from __future__ import annotations

import pytest

import codecs_for_tests as tc
from codecbench.core.plugins import Registry
from codecbench.testing import CodecCheckError, check_codec


@pytest.mark.parametrize("name", ["jpeg", "jpeg-444"])
def test_builtin_codecs_conform(name):
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow"])
    report = check_codec(registry.get("codecs", name))
    assert len(report.sizes) == 2


def test_lossless_reference_codec_conforms():
    # zlib levels are not rate points (level 9 is smaller than level 1): check one point,
    # and show that the rate property does catch the two levels.
    check_codec(tc.LosslessZlib(), qualities=[1])
    with pytest.raises(CodecCheckError, match="size decreases"):
        check_codec(tc.LosslessZlib())


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        (tc.Stateful(), "decode from bytes alone failed"),
        (tc.NonDeterministic(), "deterministic decode"),
        (tc.ShrinksWithQuality(), "rate grows with quality"),
        (tc.WrongShape(), "decoded shape"),
        (tc.WrongDtype(), "expected uint8"),
    ],
)
def test_faulty_codecs_are_caught(codec, message):
    with pytest.raises(CodecCheckError, match=message):
        check_codec(codec)


def test_bad_metadata_is_caught():
    codec = tc.LosslessZlib()
    codec.family = "transformer"
    codec.qualities = ()
    with pytest.raises(CodecCheckError, match="family must be one of.*\n.*qualities must be"):
        check_codec(codec)
