"""The learned-codec container: exact round trip and clear errors on bad files."""

import pytest

from codecbench.codecs.learned.container import (
    ContainerError,
    Latent,
    LearnedFile,
    parse,
)

pytestmark = pytest.mark.no_frameworks


def _file(**changes):
    fields = dict(codec="torch/bmshj2018-hyperprior", weights_id=bytes(range(8)), quality=3,
                  height=97, width=131,
                  latents=(Latent((96, 8, 12), b"\x01\x02\x03"), Latent((64, 2, 3), b"")))
    fields.update(changes)
    return LearnedFile(**fields)


def test_round_trip_and_documented_header_size():
    file = _file()
    data = file.to_bytes()
    assert parse(data) == file
    # 24 + len(name) fixed bytes, then (1 + 2·3 + 4) bytes per 3-D latent plus its string
    assert len(data) == 24 + len(file.codec) + 2 * (1 + 6 + 4) + 3


@pytest.mark.parametrize("mangle, message", [
    (lambda d: b"XXXX" + d[4:], "not a codecbench learned-codec file"),
    (lambda d: d[:4] + b"\x09" + d[5:], "unsupported container version 9"),
    (lambda d: d[:-2], "truncated"),
    (lambda d: d + b"\x00", "unexpected bytes"),
    (lambda d: d[:10], "truncated"),
])
def test_bad_files_are_refused_with_the_reason(mangle, message):
    with pytest.raises(ContainerError, match=message):
        parse(mangle(_file().to_bytes()))


def test_values_that_do_not_fit_are_refused():
    with pytest.raises(ContainerError, match="uint16"):
        _file(latents=(Latent((70000, 1, 1), b""),)).to_bytes()
    with pytest.raises(ContainerError, match="quality"):
        _file(quality=300).to_bytes()
