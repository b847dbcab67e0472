"""MS-SSIM speed: codecbench's numpy implementation vs pytorch_msssim on the CPU.

Both compute five-scale MS-SSIM of one 768×512 RGB pair (a Kodak-sized image: a sample
photo crop tiled to 768×512, against its JPEG q30 reconstruction), in the same process,
interleaved, each timed as the median of ``--repeats`` calls after a warm-up.
pytorch_msssim runs on float32 tensors with torch's default CPU thread count (the same
threads numpy may use). Prints both times and the ratio; the goal is ratio <= 1.

Usage: ``python benchmarks/metrics_speed.py [--repeats 21]`` (needs torch and pytorch_msssim).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image

from codecbench.api.images import load_rgb
from codecbench.datasets.builtin import SAMPLE_DIR
from codecbench.metrics.structural import _ms_ssim, ms_ssim


def kodak_sized_pair() -> tuple[np.ndarray, np.ndarray]:
    photo = load_rgb(SAMPLE_DIR / "astronaut.webp")  # 512×512
    reference = np.ascontiguousarray(np.concatenate([photo, photo[:, :256]], axis=1))  # 512×768
    buffer = io.BytesIO()
    Image.fromarray(reference).save(buffer, format="JPEG", quality=30)
    return reference, np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    import torch
    from pytorch_msssim import ms_ssim as torch_ms_ssim

    reference, decoded = kodak_sized_pair()
    x = torch.from_numpy(reference).permute(2, 0, 1)[None].float()
    y = torch.from_numpy(decoded).permute(2, 0, 1)[None].float()

    def ours():
        return _ms_ssim(reference, decoded)[0]  # uncached: every call computes

    def theirs():
        with torch.no_grad():
            return float(torch_ms_ssim(x, y, data_range=255))

    ours(), theirs()
    ours_times, theirs_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours()
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs()
        theirs_times.append(time.perf_counter() - start)
    ours_s, theirs_s = statistics.median(ours_times), statistics.median(theirs_times)
    print(f"MS-SSIM 768x512 RGB: codecbench {ours_s * 1000:.1f} ms, pytorch_msssim "
          f"{theirs_s * 1000:.1f} ms (torch threads {torch.get_num_threads()}); "
          f"ratio {ours_s / theirs_s:.2f}")
    print(f"values: codecbench {ms_ssim(reference, decoded):.6f}, pytorch_msssim {theirs():.6f}")


if __name__ == "__main__":
    main()
