"""GPU portability of the torch codecs (runs only where CUDA is available).

Only the transforms g_a/g_s run on the GPU; the entropy parameters are computed on the
CPU, so files must decode on the other device (see codecs/learned/hyperprior/torch/pipeline.py).
"""

import numpy as np
import pytest

from codecbench.api.images import load_rgb

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _codec(monkeypatch, device):
    from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec
    from codecbench.codecs.learned.models import LEARNED_MODELS

    monkeypatch.setenv("CODECBENCH_TORCH_DEVICE", device)
    codec = TorchLearnedCodec(LEARNED_MODELS["bmshj2018-hyperprior"])
    available, reason = codec.availability()
    if not available:
        pytest.skip(reason)
    codec._model(codec.qualities[-1])  # load now, on this device
    return codec


@pytest.mark.parametrize("index", [0, 1])
def test_files_cross_between_cpu_and_gpu(monkeypatch, index):
    from codecbench.datasets.builtin import SAMPLE_DIR

    image = load_rgb(sorted(SAMPLE_DIR.glob("*.webp"))[index])[:301, :257]
    cpu = _codec(monkeypatch, "cpu")
    gpu = _codec(monkeypatch, "cuda")
    quality = cpu.qualities[-1]
    on_cpu, on_gpu = cpu.encode(image, quality), gpu.encode(image, quality)
    # the rate hardly depends on where g_a ran
    assert abs(len(on_gpu) - len(on_cpu)) <= 0.01 * len(on_cpu)
    decoded = {
        "cpu<-cpu": cpu.decode(on_cpu), "gpu<-cpu": gpu.decode(on_cpu),
        "cpu<-gpu": cpu.decode(on_gpu), "gpu<-gpu": gpu.decode(on_gpu),
    }
    for key, value in decoded.items():
        assert value.shape == image.shape, key
    for a, b in (("cpu<-cpu", "gpu<-cpu"), ("cpu<-gpu", "gpu<-gpu")):
        difference = np.abs(decoded[a].astype(int) - decoded[b].astype(int))
        assert difference.max() <= 2, (a, b)
        assert (difference <= 1).mean() >= 0.999, (a, b)
