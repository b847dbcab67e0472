"""Optional classical codec plugin: x265 and libaom AV1 through the ``ffmpeg`` binary.

Registered always; listed as unavailable ("ffmpeg not installed") when there is no
``ffmpeg`` on ``PATH`` (Debian: ``apt-get install ffmpeg``).

Traps handled:

* **No container.** The file is the raw elementary stream (HEVC Annex B via ``-f hevc``,
  AV1 OBUs via ``-f obu``): an MP4/MKV container would add hundreds of bytes that are
  not part of the codec.
* **No encoder banner.** x265 writes its whole command line as an SEI message (≈ 2 KB)
  unless ``info=0``; it is disabled here.
* **Colour.** RGB is converted to Y'CbCr 4:4:4 with the BT.601 matrix at full range, and
  back with the same matrix and range given explicitly to swscale (``accurate_rnd``,
  ``full_chroma_int``): relying on stream tags, ffmpeg decodes full-range data as limited
  range and loses ~6 dB.
* **Decode from bytes alone.** The stream carries its size (SPS / sequence header); the
  decoder writes a PPM whose header gives width and height.
"""

from __future__ import annotations

import abc
import io
import re
import shutil
from typing import TYPE_CHECKING

from codecbench.api.codec import Codec, Family
from codecbench.api.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np

SWS_FLAGS = "accurate_rnd+full_chroma_int+bitexact"
TIMEOUT_S = 300


def run_ffmpeg(arguments: list[str], stdin: bytes) -> bytes:
    """Run ``ffmpeg`` quietly; a failure raises with ffmpeg's last error lines."""
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *arguments]
    import subprocess  # deferred: listing the codecs never runs ffmpeg

    try:
        result = subprocess.run(command, input=stdin, capture_output=True, timeout=TIMEOUT_S)
    except FileNotFoundError as exc:
        raise RuntimeError("ffmpeg is not installed") from exc
    if result.returncode != 0:
        tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {' | '.join(tail)}")
    return result.stdout


def ffmpeg_version() -> str:
    output = run_ffmpeg(["-version"], b"") if shutil.which("ffmpeg") else b""
    match = re.search(rb"ffmpeg version (\S+)", output)
    return match.group(1).decode() if match else "?"


class FfmpegCodec(Codec):
    """A single intra frame through an ffmpeg video encoder; subclasses set the encoder."""

    family = Family.CLASSICAL.value
    framework = "ffmpeg"
    in_default_run = False  # about a second per encode
    encoder = ""
    muxer = ""
    demuxer = ""

    @abc.abstractmethod
    def encoder_arguments(self, quality) -> list[str]:
        """ffmpeg's encoder options at ``quality``."""

    @property
    def version(self) -> str:
        return f"ffmpeg {ffmpeg_version()}, {self.encoder}, yuv444p full range"

    def library_versions(self) -> dict[str, str]:
        return {"ffmpeg": ffmpeg_version()}

    def availability(self) -> tuple[bool, str]:
        if shutil.which("ffmpeg") is None:
            return False, "ffmpeg not installed (Debian: apt-get install ffmpeg)"
        return True, ""

    def encode(self, image: np.ndarray, quality) -> bytes:
        import numpy as np

        height, width = image.shape[:2]
        return run_ffmpeg(
            [
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "-",
                "-frames:v", "1",
                "-vf", f"scale=out_color_matrix=bt601:out_range=full:flags={SWS_FLAGS},"
                       "format=yuv444p",
                "-color_range", "pc", "-colorspace", "bt470bg",
                "-c:v", self.encoder, *self.encoder_arguments(quality),
                "-f", self.muxer, "-",
            ],
            np.ascontiguousarray(image).tobytes(),
        )

    def decode(self, data: bytes) -> np.ndarray:
        import numpy as np
        from PIL import Image

        if not data:
            raise ValueError("empty stream")
        ppm = run_ffmpeg(
            ["-f", self.demuxer, "-i", "-", "-frames:v", "1",
             "-vf", f"scale=in_color_matrix=bt601:in_range=full:flags={SWS_FLAGS},format=rgb24",
             "-f", "image2pipe", "-c:v", "ppm", "-"],
            data,
        )
        if not ppm:
            raise ValueError("ffmpeg decoded no frame")
        with Image.open(io.BytesIO(ppm)) as img:
            img.load()
            return np.array(img.convert("RGB"))


class FfmpegX265(FfmpegCodec):
    """HEVC intra with x265 (raw Annex B stream), 4:4:4, preset medium, psycho-visual tools
    and AQ off (tuned for PSNR, like ``hevc-intra``); quality = CRF."""

    name = "ffmpeg-x265"
    encoder = "libx265"
    muxer = demuxer = "hevc"
    qualities = (45, 41, 37, 34, 31, 28, 25, 22, 19)
    description = "HEVC intra, x265 via ffmpeg, raw stream, 4:4:4, quality = CRF 45-19"

    def encoder_arguments(self, quality) -> list[str]:
        return ["-preset", "medium", "-crf", str(quality),
                "-x265-params", "info=0:log-level=error:keyint=1:psy-rd=0:psy-rdoq=0:aq-mode=0"]


class FfmpegAv1(FfmpegCodec):
    """AV1 intra with libaom (raw OBU stream), 4:4:4, cpu-used 6; quality = CRF (0–63)."""

    name = "ffmpeg-av1"
    encoder = "libaom-av1"
    muxer = demuxer = "obu"
    qualities = (55, 50, 45, 40, 35, 30, 25, 20, 15, 10, 6)
    description = "AV1 intra, libaom via ffmpeg, raw OBU stream, 4:4:4, quality = CRF 55-6"

    def encoder_arguments(self, quality) -> list[str]:
        return ["-crf", str(quality), "-b:v", "0", "-cpu-used", "6", "-still-picture", "1"]


@hookimpl
def register_codecs(register):
    register(FfmpegX265())
    register(FfmpegAv1())
