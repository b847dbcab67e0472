"""GPU portability of the TF codecs (runs only where TensorFlow sees a GPU).

Only g_a/g_s run on the GPU; the hyper transforms, scale indexes and range coder run on the
CPU, so a file encoded with the transforms on one device decodes on the other
(see codecs/learned/hyperprior/tf/pipeline.py).
"""

import numpy as np
import pytest

from codecbench.api.images import load_rgb

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")
pytestmark = pytest.mark.skipif(not tf.config.list_physical_devices("GPU"),
                                reason="needs a GPU visible to TensorFlow")


@pytest.mark.parametrize("slug", ["bmshj2018-hyperprior", "mbt2018-mean", "mbt2018"])
def test_tf_files_cross_between_cpu_and_gpu(monkeypatch, slug):
    from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec
    from codecbench.codecs.learned.models import LEARNED_MODELS
    from codecbench.datasets.builtin import SAMPLE_DIR

    image = load_rgb(sorted(SAMPLE_DIR.glob("*.webp"))[0])[:301, :257]
    cpu, gpu = TFLearnedCodec(LEARNED_MODELS[slug]), TFLearnedCodec(LEARNED_MODELS[slug])
    monkeypatch.setenv("CODECBENCH_TF_DEVICE", "cpu")
    on_cpu = cpu.encode(image, 3)
    monkeypatch.setenv("CODECBENCH_TF_DEVICE", "gpu")
    on_gpu = gpu.encode(image, 3)
    assert abs(len(on_gpu) - len(on_cpu)) <= 0.01 * len(on_cpu)
    decoded_on_gpu = gpu.decode(on_cpu)
    monkeypatch.setenv("CODECBENCH_TF_DEVICE", "cpu")
    decoded_on_cpu = cpu.decode(on_gpu)
    for decoded in (decoded_on_gpu, decoded_on_cpu):
        assert decoded.shape == image.shape
    difference = np.abs(decoded_on_gpu.astype(int) - cpu.decode(on_cpu).astype(int))
    assert (difference <= 1).mean() >= 0.999
