"""Corrupted learned-codec files: every decoder refuses a bad header fast, in bounded memory.

Each learned code path of both frameworks encodes a 64×64 crop of a bundled photo with
its shipped weights; a child process (one per framework: this file run as a script) then
decodes, one by one, the file with each bit of its header flipped, with bits of its
strings flipped, with each bit of each latent's shape flipped, claiming an image above
the pixel bound, and claiming another rate point. The child times every decode, caps its
address space (RLIMIT_AS) a little above what the normal decodes needed, measures its
peak resident memory, and reports what each decode did. A decode must raise a
``ValueError`` (a :class:`ContainerError` for header faults) with a one-line message, or
return an image of the header's size; a corrupt header is refused in under a second.
The torch codecs also decode 256×256 files whose strings are empty or all ones:
CompressAI's rANS decoder must never read past a string (which would make the same file
decode differently from one call to the next, or crash).

With a 64×64 image no header bit can be flipped harmlessly: every size flip changes the
padded size, every quality flip names another rate point (other weights, or another
latent count), so every header flip must be refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codecbench.codecs.learned import container as learned_container
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile, parse

# (codec, rate point encoded, another rate point of the codec): every code path of both
# frameworks (johnston2018-priming decodes as toderici2017-gru does; johnston2018-adaptive
# adds the stop map)
TORCH_CODECS = [
    ("torch/bls2017-factorized", 3, 1),
    ("torch/bmshj2018-hyperprior", 3, 2),
    ("torch/mbt2018-mean", 3, 5),
    ("torch/mbt2018", 3, 1),
    ("torch/bao2022-attention", 3, 5),
    ("torch/hific", 2, 1),
    ("torch/hific-omgd", 2, None),
    ("torch/toderici2016-lstm", 4, 2),
    ("torch/toderici2017-gru", 4, 6),
    ("torch/johnston2018-adaptive", 3, 5),
    ("torch/agustsson2019-gc", 2, 3),
    ("torch/rippel2017-waveone", 3, 6),
    ("torch/mentzer2018-context", 3, 6),
    ("torch/klopp2018-codespace", 3, 5),
    ("torch/minnen2017-tiled", 3, 1),
]
TF_CODECS = [
    ("tf/bls2017-factorized", 3, 1),
    ("tf/bmshj2018-hyperprior", 3, 2),
    ("tf/mbt2018-mean", 3, 5),
    ("tf/mbt2018", 3, 1),
    ("tf/bao2022-attention", 3, 5),
    ("tf/hific", 2, 1),
    ("tf/hific-omgd", 2, None),
    ("tf/toderici2016-lstm", 4, 2),
    ("tf/toderici2017-gru", 4, 6),
    ("tf/johnston2018-adaptive", 3, 5),
    ("tf/agustsson2019-gc", 2, 3),
    ("tf/rippel2017-waveone", 3, 6),
    ("tf/mentzer2018-context", 3, 6),
    ("tf/klopp2018-codespace", 3, 5),
    ("tf/minnen2017-tiled", 3, 1),
]
CROP = 64
SHORT_STRING_CODECS = {"torch/bls2017-factorized", "torch/bmshj2018-hyperprior",
                       "torch/mbt2018-mean", "torch/bao2022-attention", "torch/toderici2017-gru", "torch/agustsson2019-gc",
                       "torch/rippel2017-waveone", "torch/klopp2018-codespace",
                       "torch/mentzer2018-context", "torch/minnen2017-tiled"}
"""Torch codecs decoded with strings shorter than their latents need (CompressAI's rANS
decoder does not check where a string ends), one per table kind and code path."""
SHORT_STRING_CROP = 256
PAYLOAD_FLIPS = 8
DECODE_LIMIT_S = 1.0
"""The most a decode of a corrupt header may take."""
PAYLOAD_SLOWDOWN = 5.0
"""A decode of a corrupt string runs the whole network: it may take up to this many times
the slowest of three normal decodes (or DECODE_LIMIT_S, whichever is more)."""
ADDRESS_MARGIN = 1 << 30
"""Address space the child may add to what it held after a normal decode (RLIMIT_AS)."""
RSS_GROWTH_LIMIT = 256 << 20
"""Peak resident memory the corrupted decodes may add to what a normal decode held."""
WATCHDOG_S = 10.0
"""A single decode running longer than this ends the child (and fails its codec)."""
CHILD_TIMEOUT_S = {"torch": 240, "tf": 300}


# -- the container's own checks (no framework) ----------------------------------------------

def _file(**changes) -> LearnedFile:
    fields = dict(codec="torch/bmshj2018-hyperprior", weights_id=bytes(range(8)), quality=3,
                  height=64, width=64,
                  latents=(Latent((96, 4, 4), b"\x01" * 40), Latent((64, 1, 1), b"\x02" * 12)))
    fields.update(changes)
    return LearnedFile(**fields)


def _with_size(data: bytes, height: int, width: int) -> bytes:
    at = 6 + data[5] + 8 + 1  # magic, version, name length, name, weights id, quality
    return data[:at] + height.to_bytes(4, "big") + width.to_bytes(4, "big") + data[at + 8:]


@pytest.mark.parametrize("height, width", [
    (0, 64), (64, 0), (178_956_970 // 1000 + 1, 1000), (1 << 31, 1 << 31),
    (2**32 - 1, 2**32 - 1),
])
def test_parse_refuses_an_empty_or_oversized_image(height, width):
    bound = learned_container.MAX_PIXELS
    assert bound == 178_956_970  # Pillow's decompression-bomb bound
    data = _with_size(_file().to_bytes(), height, width)
    with pytest.raises(ContainerError, match=rf"image size {width}×{height} \(width×height\): "
                                             rf"expected .* at most {bound} pixels"):
        parse(data)
    assert parse(_with_size(data, 1, bound)).width == bound  # the bound itself


def test_files_of_oversized_images_are_not_written():
    with pytest.raises(ContainerError, match="image size"):
        _file(height=learned_container.MAX_PIXELS, width=2).to_bytes()


def test_check_latents_names_the_field_its_value_and_the_expectation():
    check_latents = learned_container.check_latents
    expected = [("latent 1 (y)", (96, 4, 4)), ("latent 2 (z)", (64, 1, 1))]
    check_latents(_file(), expected, "torch/bmshj2018-hyperprior quality 3")
    wrong = _file(latents=(Latent((96, 4, 4), b""), Latent((64, 4097, 1), b"")))
    with pytest.raises(ContainerError) as error:
        check_latents(wrong, expected, "torch/bmshj2018-hyperprior quality 3")
    assert str(error.value) == ("latent 2 (z) has shape (64, 4097, 1), expected (64, 1, 1) "
                                "for a 64×64 image (torch/bmshj2018-hyperprior quality 3)")
    with pytest.raises(ContainerError, match=r"^latent count 1: expected 2 \(latent 1 \(y\), "
                                             r"latent 2 \(z\)\) for torch/"):
        check_latents(_file(latents=(Latent((96, 4, 4), b""),)), expected,
                      "torch/bmshj2018-hyperprior quality 3")
    progressive = [(f"iteration {t}", (32, 4, 4)) for t in range(1, 5)]
    with pytest.raises(ContainerError, match=r"latent count 2: expected 4 "
                                             r"\(iteration 1 … iteration 4\)"):
        check_latents(_file(), progressive, "tf/toderici2017-gru quality 4")
    with pytest.raises(ContainerError, match=r"iteration 1 has shape \(96, 4, 4\), expected "
                                             r"\(32, 4, 4\)"):
        check_latents(_file(latents=(Latent((96, 4, 4), b""),) * 4), progressive, "x")


# -- every learned codec, in a child process ------------------------------------------------

def _run_children(framework: str, jobs: list[tuple[str, int, int | None]]) -> dict:
    """``{codec: report}`` of the child runs; a child that dies (crash, watchdog, timeout)
    fails the codec it was decoding, and a new child goes on with the rest."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CODECBENCH_TORCH_WEIGHTS", "CODECBENCH_TF_WEIGHTS")}
    env.update(CODECBENCH_TORCH_DEVICE="cpu", CODECBENCH_TF_DEVICE="cpu",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    reports: dict[str, dict] = {}
    remaining = list(jobs)
    while remaining:
        try:
            done = subprocess.run([sys.executable, __file__, json.dumps(remaining)],
                                  capture_output=True, text=True, env=env,
                                  timeout=CHILD_TIMEOUT_S[framework])
            stdout, stderr, status = done.stdout, done.stderr, f"exit status {done.returncode}"
        except subprocess.TimeoutExpired as expired:
            stdout = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) \
                else expired.stdout or ""
            stderr = (expired.stderr or b"").decode() if isinstance(expired.stderr, bytes) \
                else expired.stderr or ""
            status = f"timed out after {CHILD_TIMEOUT_S[framework]} s"
        started = None
        for line in stdout.splitlines():
            if line.startswith("BEGIN "):
                started = line[6:]
            elif line.startswith("REPORT "):
                report = json.loads(line[7:])
                reports[report["codec"]] = report
                started = None
        finished = {name for name, *_ in remaining if name in reports}
        if started is not None:
            reports[started] = {"codec": started, "died": f"{status}; stderr: "
                                                          f"{stderr[-1500:]}"}
            finished.add(started)
        elif not finished:
            pytest.fail(f"the {framework} child ended with {status} before any codec: "
                        f"{stderr[-3000:]}")
        remaining = [job for job in remaining if job[0] not in finished]
    return reports


_REPORTS: dict[str, dict] = {}


def _report(codec: str) -> dict:
    if not sys.platform.startswith("linux"):
        pytest.skip("the child measures its memory in /proc")
    framework = codec.split("/")[0]
    if framework == "torch":
        pytest.importorskip("torch")
        pytest.importorskip("compressai")
    else:
        pytest.importorskip("tensorflow")
        pytest.importorskip("tensorflow_compression")
    if framework not in _REPORTS:
        _REPORTS[framework] = _run_children(framework, TORCH_CODECS if framework == "torch"
                                            else TF_CODECS)
    report = _REPORTS[framework][codec]
    if "unavailable" in report:
        pytest.skip(f"{codec}: {report['unavailable']}")
    assert "died" not in report, f"{codec}: the decoding process died: {report['died']}"
    return report


ALL_CODECS = [pytest.param(name, id=name) for name, *_ in TORCH_CODECS + TF_CODECS]


def _assert_refused(outcomes, codec):
    for outcome in outcomes:
        assert outcome["kind"] == "error" and outcome["type"] == "ContainerError", \
            (codec, outcome)
        assert "\n" not in outcome["message"] and outcome["message"], (codec, outcome)


def _assert_bounded_memory(report, codec):
    if report["rss_growth"] is not None:  # None: the peak could not be reset here
        assert report["rss_growth"] < RSS_GROWTH_LIMIT, (codec, report["rss_growth"])


def _assert_fast(outcomes, codec):
    slowest = max(outcomes, key=lambda outcome: outcome["seconds"])
    assert slowest["seconds"] < DECODE_LIMIT_S, (codec, slowest)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ALL_CODECS)
def test_every_header_bit_flip_is_refused_fast_in_bounded_memory(codec):
    report = _report(codec)
    outcomes = report["header"]
    assert len(outcomes) == 8 * report["header_bytes"] >= 8 * 50
    _assert_refused(outcomes, codec)
    _assert_fast(outcomes, codec)
    _assert_bounded_memory(report, codec)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ALL_CODECS)
def test_string_bit_flips_decode_to_the_header_size_or_are_refused(codec):
    report = _report(codec)
    outcomes = report["payload"]
    assert len(outcomes) == PAYLOAD_FLIPS
    for outcome in outcomes:
        if outcome["kind"] == "image":
            assert outcome["shape"] == [CROP, CROP, 3] and outcome["dtype"] == "uint8", outcome
        else:  # a corrupt string may be detected by the range decoder
            assert outcome["kind"] == "error" and outcome["value_error"], (codec, outcome)
            assert "\n" not in outcome["message"], (codec, outcome)
    limit = max(DECODE_LIMIT_S, PAYLOAD_SLOWDOWN * report["normal_seconds"])
    slowest = max(outcomes, key=lambda outcome: outcome["seconds"])
    assert slowest["seconds"] < limit, (codec, slowest, report["normal_seconds"])
    _assert_bounded_memory(report, codec)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ALL_CODECS)
def test_a_flipped_latent_shape_bit_is_refused_fast_naming_the_field(codec):
    report = _report(codec)
    outcomes = report["shape"]
    assert len(outcomes) == 16 * 3 * report["latents"]
    _assert_refused(outcomes, codec)
    _assert_fast(outcomes, codec)
    for outcome in outcomes:
        shape = ", ".join(map(str, outcome["flipped"]))
        assert f"has shape ({shape}), expected ({', '.join(map(str, outcome['expected']))})" \
            in outcome["message"], (codec, outcome)
        assert outcome["message"].startswith(("latent ", "iteration ", "bitplane ")), outcome
        assert outcome["message"].endswith(f" image ({codec} quality {report['quality']})"), \
            outcome


@pytest.mark.slow
@pytest.mark.parametrize("codec", sorted(SHORT_STRING_CODECS))
def test_strings_shorter_than_their_latents_never_make_the_decoder_read_past_them(codec):
    """A decoder reading past a string's end reads whatever follows it in memory: the
    same file would decode differently each time (or crash). Here it decodes alike."""
    for fill, outcomes in _report(codec)["short_strings"].items():
        for outcome in outcomes:
            assert outcome["kind"] == "image" or outcome["value_error"], (codec, fill, outcome)
        assert len({outcome.get("digest", outcome.get("message")) for outcome in outcomes}) == 1, \
            (codec, fill, outcomes)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ALL_CODECS)
def test_a_consistent_file_of_an_image_above_the_pixel_bound_is_refused(codec):
    outcome = _report(codec)["oversized"]
    _assert_refused([outcome], codec)
    _assert_fast([outcome], codec)
    assert outcome["message"].startswith("image size 16384×16384 (width×height)"), outcome


@pytest.mark.slow
@pytest.mark.parametrize("codec", ALL_CODECS)
def test_a_file_claiming_another_rate_point_is_refused(codec):
    report = _report(codec)
    _assert_refused([report["unknown_quality"]], codec)
    assert report["unknown_quality"]["message"].startswith("quality 77: "), report
    if report["other_quality"] is not None:  # None: the codec has one rate point
        _assert_refused([report["other_quality"]], codec)
        _assert_fast([report["other_quality"]], codec)
        message = report["other_quality"]["message"]
        assert "encoded with weights" in message or message.startswith("latent count"), message


# -- the child ----------------------------------------------------------------------------

def _regions(data: bytes) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """Byte offsets of the header (everything but the strings), the strings' spans and
    the offset of each latent's shape, walking the documented layout."""
    at = 6 + data[5] + 8 + 1 + 4 + 4
    count = data[at]
    at += 1
    header, strings, shapes = list(range(at)), [], []
    for _ in range(count):
        rank = data[at]
        header.extend(range(at, at + 1 + 2 * rank + 4))
        shapes.append(at + 1)
        at += 1 + 2 * rank
        length = int.from_bytes(data[at:at + 4], "big")
        at += 4
        strings.append((at, at + length))
        at += length
    return header, strings, shapes


def _flip(data: bytes, bit: int) -> bytes:
    mutable = bytearray(data)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


def _memory() -> dict[str, int]:
    with open("/proc/self/status") as status:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status
                if line.startswith(("VmSize", "VmRSS", "VmHWM"))}


def _decode(codec, data: bytes) -> dict:
    import faulthandler
    import hashlib
    import time

    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    start = time.perf_counter()
    try:
        image = codec.decode(data)
        outcome = {"kind": "image", "shape": list(image.shape), "dtype": str(image.dtype)}
    except Exception as exc:  # noqa: BLE001 - the report says what it was
        outcome = {"kind": "error", "type": type(exc).__name__, "message": str(exc),
                   "value_error": isinstance(exc, ValueError)}
    outcome["seconds"] = time.perf_counter() - start
    faulthandler.cancel_dump_traceback_later()
    if outcome["kind"] == "image":
        outcome["digest"] = hashlib.sha256(image.tobytes()).hexdigest()
    return outcome


def _oversized(data: bytes, side: int) -> bytes:
    """The file claiming a ``side×side`` image, its latents' grids scaled to match."""
    file = parse(data)
    scale = side // CROP
    latents = tuple(Latent((latent.shape[0], latent.shape[1] * scale, latent.shape[2] * scale),
                           latent.string) for latent in file.latents)
    header = LearnedFile(file.codec, file.weights_id, file.quality, 64, 64, latents).to_bytes()
    return _with_size(header, side, side)


def _with_strings(data: bytes, fill: str) -> bytes:
    """The file with every string emptied (``empty``) or set to as many 0xFF bytes."""
    file = parse(data)
    latents = tuple(Latent(latent.shape, b"" if fill == "empty" else b"\xff" * len(latent.string))
                    for latent in file.latents)
    return LearnedFile(file.codec, file.weights_id, file.quality, file.height, file.width,
                       latents).to_bytes()


def _with_quality(data: bytes, quality: int) -> bytes:
    at = 6 + data[5] + 8
    return data[:at] + bytes([quality]) + data[at + 1:]


def _child(jobs: list) -> None:
    import random
    import resource
    import time

    import numpy as np

    from codecbench.api.registry import get_registry
    from codecbench.datasets.builtin import sample_dataset

    dataset = sample_dataset()
    image = np.ascontiguousarray(dataset.load("tulips.webp")[200:200 + CROP, 150:150 + CROP])
    registry = get_registry()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    for name, quality, other in jobs:
        print(f"BEGIN {name}", flush=True)
        began = time.perf_counter()
        codec = registry.get("codecs", name)
        available, reason = codec.availability()
        if not available:
            print("REPORT " + json.dumps({"codec": name, "unavailable": reason}), flush=True)
            continue
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        data = bytes(codec.encode(image, quality))
        normal = [_decode(codec, data) for _ in range(4)][1:]  # the first builds tables
        assert all(outcome["kind"] == "image" for outcome in normal), normal
        header, strings, shape_offsets = _regions(data)
        rng = random.Random(f"{name} {quality}")
        payload_bits = [rng.randrange(8 * start, 8 * end) for start, end in
                        rng.choices([span for span in strings if span[1] > span[0]],
                                    k=PAYLOAD_FLIPS)]
        file = parse(data)
        before = _memory()
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # resets VmHWM: the peak below is that of the corrupt decodes
            peak_reset = True
        except OSError:  # not allowed here: the address-space cap still bounds memory
            peak_reset = False
        cap = before["VmSize"] + ADDRESS_MARGIN
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                                else min(cap, hard), hard))
        report = {"codec": name, "quality": quality, "header_bytes": len(header),
                  "latents": len(file.latents),
                  "normal_seconds": max(outcome["seconds"] for outcome in normal)}
        report["header"] = [dict(_decode(codec, _flip(data, 8 * byte + bit)), bit=8 * byte + bit)
                            for byte in header for bit in range(8)]
        report["payload"] = [dict(_decode(codec, _flip(data, bit)), bit=bit)
                             for bit in payload_bits]
        report["shape"] = []
        for index, offset in enumerate(shape_offsets):
            for dim in range(3):
                for bit in range(16):
                    flipped = _flip(data, 8 * (offset + 2 * dim) + (15 - bit))
                    outcome = _decode(codec, flipped)
                    outcome["flipped"] = list(parse(flipped).latents[index].shape)
                    outcome["expected"] = list(file.latents[index].shape)
                    report["shape"].append(outcome)
        report["oversized"] = _decode(codec, _oversized(data, 16384))
        report["other_quality"] = (None if other is None
                                   else _decode(codec, _with_quality(data, other)))
        report["unknown_quality"] = _decode(codec, _with_quality(data, 77))
        after = _memory()
        report["rss_growth"] = max(after["VmHWM"] - before["VmRSS"], 0) if peak_reset else None
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        report["short_strings"] = None
        if name in SHORT_STRING_CODECS:
            big = np.ascontiguousarray(dataset.load("tulips.webp")[:SHORT_STRING_CROP,
                                                                  :SHORT_STRING_CROP])
            big_data = bytes(codec.encode(big, quality))
            report["short_strings"] = {
                fill: [_decode(codec, _with_strings(big_data, fill)) for _ in range(3)]
                for fill in ("empty", "ones")}
        report["child_seconds"] = time.perf_counter() - began
        print("REPORT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
    sys.stdout.flush()
    os._exit(0)  # skip the frameworks' slow interpreter teardown

