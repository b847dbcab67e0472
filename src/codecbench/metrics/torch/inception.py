"""FID's Inception-v3 features (PyTorch), on weights found locally.

The network is ``pytorch-fid``'s ``InceptionV3`` (the port of the TensorFlow FID
Inception graph: its blocks differ from torchvision's), returning the 2048-d pool3
features; inputs in [0, 1] are resized to 299×299 (bilinear) and scaled to [−1, 1] as
pytorch-fid does. Its weights file (``pt_inception-2015-12-05-6726825d.pth``) is the one
:mod:`codecbench.metrics.perceptual_weights` finds: pytorch-fid's own loader
would download it, so it is handed the local file instead (its ``load_state_dict_from_url``
is replaced by a function returning our tensors while the network is built).
"""

from __future__ import annotations

import functools
from unittest import mock

import numpy as np
import torch

from codecbench.metrics import perceptual_weights as pw

FEATURES = 2048
BATCH = 16


@functools.lru_cache(maxsize=1)
def fid_inception():
    """pytorch-fid's FID Inception-v3 (pool3 output) on the local weights, eval mode."""
    from pytorch_fid import inception as fid_module

    from codecbench.frameworks.torch_runtime import torch_load

    state = torch_load(pw.require(pw.BACKBONES["inception"]))
    with mock.patch.object(fid_module, "load_state_dict_from_url",
                           lambda *args, **kwargs: state):
        network = fid_module.InceptionV3([fid_module.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURES]],
                                         resize_input=True, normalize_input=True,
                                         use_fid_inception=True)
    return network.eval()


def inception_features(patches: np.ndarray, device: str = "cpu") -> np.ndarray:
    """``n × 2048`` float64 features of ``n × H × W × 3`` uint8 patches."""
    network = fid_inception().to(device)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(patches), BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(patches[start:start + BATCH]))
            x = batch.permute(0, 3, 1, 2).float().div(255.0).to(device)
            outputs.append(network(x)[0].flatten(1).double().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, FEATURES))
