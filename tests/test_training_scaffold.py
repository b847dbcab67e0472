"""The training scaffold itself: exact resume, the time limit, the schedule, ``--init-from``,
and one ``training.json`` with the same keys for every family."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from codecbench.codecs.learned import training_loop  # noqa: E402
from codecbench.codecs.learned.models import (  # noqa: E402
    GENERATIVE_MODELS,
    LEARNED_MODELS,
    RECURRENT_MODELS,
    TILED_MODELS,
    WAVEONE_MODELS,
)
from codecbench.codecs.learned.torch.training import (  # noqa: E402
    InitialWeights,
    TorchTraining,
    Trainables,
    descend,
)
from codecbench.codecs.learned.training_loop import RECORD_KEYS, TrainingError  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from codecbench.metrics import perceptual_weights as pw  # noqa: E402
from training_helpers import curves, tiny_config  # noqa: E402

TOY = SimpleNamespace(slug="toy", paper="A toy denoiser (a test of the scaffold)")
TOY_FORMAT = "codecbench-test-toy-checkpoint/1"


def _toy_weights(path):
    state = torch.load(path, weights_only=True)
    return state, {"model": "toy", "steps": "0"}


class ToyTraining(TorchTraining):
    """A one-convolution denoiser: global-RNG noise, the crop sampler, a scheduled and a
    fixed-rate optimiser — every state a checkpoint must restore."""

    checkpoint_format = TOY_FORMAT
    initial_weights = InitialWeights(_toy_weights, TOY_FORMAT, lineage=("model",),
                                     checkpoint_lineage=("codec",),
                                     accepted="toy weights nor a toy checkpoint")
    extra_keys = ("noise",)
    width = 3

    def prepare(self) -> None:
        pass

    def build(self) -> Trainables:
        self.net = nn.Conv2d(3, self.width, 3, padding=1).to(self.device)
        self.gain = nn.Linear(1, 1, bias=False).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.learning_rate)
        self.aux_optimizer = torch.optim.Adam(self.gain.parameters(),
                                              lr=self.config.aux_learning_rate)
        return Trainables({"model": self.net, "gain": self.gain}, {"optimizer": self.optimizer},
                          {"aux_optimizer": self.aux_optimizer})

    def train_step(self, step: int, batch) -> dict:
        noise = 0.1 * torch.randn_like(batch)
        x_hat = self.net(batch + noise)[:, :3]
        loss = F.mse_loss(x_hat, batch)
        descend(self.optimizer, loss, self.config.clip_norm)
        aux_loss = (self.gain.weight - 2).pow(2).sum()
        descend(self.aux_optimizer, aux_loss)
        return {"loss": loss.item(), "bpp": 0.0, "distortion": loss.item(),
                "aux_loss": aux_loss.item(), "noise": float(noise.abs().mean())}

    def export(self):
        path = self.out / "toy.pt"
        torch.save(self.net.state_dict(), path)
        return path, {"width": self.width}


def _toy(data, out, **changes):
    config = tiny_config(data, out, **{"steps": 6, "patch_size": 32, "log_every": 1,
                                       "checkpoint_every": 2, **changes})
    return ToyTraining(TOY, "torch/toy", config).run()


@pytest.fixture
def records(monkeypatch):
    """The ``training.json`` records written, in order."""
    written = []
    original = training_loop.write_training_record

    def spy(out, record):
        written.append(record)
        original(out, record)

    monkeypatch.setattr(training_loop, "write_training_record", spy)
    return written


def _same_weights(a, b):
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def _without_time(rows):
    return [row | {"elapsed_s": ""} for row in rows]


def test_a_resumed_run_draws_what_an_uninterrupted_one_would(small_photo_dir, tmp_path):
    straight = _toy(small_photo_dir, tmp_path / "straight")
    _toy(small_photo_dir, tmp_path / "split", steps=3)
    resumed = _toy(small_photo_dir, tmp_path / "split")
    assert straight.finished and resumed.finished and resumed.step == 6
    assert _same_weights(straight.weights, resumed.weights)
    assert _without_time(curves(tmp_path / "split")) == _without_time(curves(tmp_path / "straight"))
    checkpoint = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert {"model", "gain", "optimizer", "aux_optimizer", "generator", "torch_rng"} <= \
        checkpoint.keys()


def test_the_time_limit_stops_with_a_checkpoint_and_the_run_continues(small_photo_dir,
                                                                      tmp_path, records):
    straight = _toy(small_photo_dir, tmp_path / "straight")
    stopped = _toy(small_photo_dir, tmp_path / "limited", time_limit_s=0.0)
    assert stopped.step == 1 and not stopped.finished and stopped.weights is None
    assert (tmp_path / "limited" / "checkpoint.pt").exists()
    assert not (tmp_path / "limited" / "training.json").exists()
    assert [row["step"] for row in curves(tmp_path / "limited")] == ["1"]
    continued = _toy(small_photo_dir, tmp_path / "limited")
    assert continued.finished and _same_weights(straight.weights, continued.weights)
    assert len(records) == 2  # the straight run and the continued one, nothing at the stop


def test_the_schedule_moves_scheduled_optimisers_only(small_photo_dir, tmp_path):
    config = tiny_config(small_photo_dir, tmp_path / "run", steps=4, patch_size=32,
                         log_every=1, lr_milestones=(0.5,), lr_gamma=0.1,
                         learning_rate=1e-2, aux_learning_rate=5e-3)
    run = ToyTraining(TOY, "torch/toy", config)
    run.run()
    assert [float(row["lr"]) for row in curves(tmp_path / "run")] == \
        pytest.approx([1e-2, 1e-2, 1e-3, 1e-3])
    assert run.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert run.aux_optimizer.param_groups[0]["lr"] == 5e-3
    assert all(row["noise"] for row in curves(tmp_path / "run"))  # the family's own column


def test_training_json_is_written_once_by_the_scaffold(small_photo_dir, tmp_path, records):
    result = _toy(small_photo_dir, tmp_path / "run")
    record = json.loads((tmp_path / "run" / "training.json").read_text())
    assert records == [record]
    assert list(record) == [*RECORD_KEYS[:3], "width", *RECORD_KEYS[3:]]
    assert record["steps"] == 6 and record["data"]["images"] == 3
    assert record["versions"] == {"torch": torch.__version__}
    assert record["final_interval"] == result.final and record["parent"] is None

    class Clashing(ToyTraining):
        def export(self):
            path, _ = super().export()
            return path, {"steps": 0}

    config = tiny_config(small_photo_dir, tmp_path / "clash", steps=1, patch_size=32)
    with pytest.raises(ValueError, match="may not replace.*steps"):
        Clashing(TOY, "torch/toy", config).run()


def test_init_from_loads_the_model_and_records_the_lineage(small_photo_dir, tmp_path):
    base = _toy(small_photo_dir, tmp_path / "base", steps=2)
    _toy(small_photo_dir, tmp_path / "tuned", steps=2,
         init_from=tmp_path / "base" / "checkpoint.pt")
    record = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert record["parent"] == {"checkpoint": str(tmp_path / "base" / "checkpoint.pt"),
                                "codec": "torch/toy", "steps": 2}
    assert not _same_weights(base.weights, tmp_path / "tuned" / "toy.pt")
    with pytest.raises(TrainingError, match="is neither toy weights nor a toy checkpoint"):
        _toy(small_photo_dir, tmp_path / "bad", init_from=base.weights)

    class Wider(ToyTraining):
        width = 4

    config = tiny_config(small_photo_dir, tmp_path / "wider", patch_size=32,
                         init_from=tmp_path / "base" / "checkpoint.pt")
    with pytest.raises(TrainingError, match="architecture differs"):
        Wider(TOY, "torch/toy", config).run()

    class FromScratch(ToyTraining):
        initial_weights = None

    with pytest.raises(TrainingError, match="torch/toy trains from scratch"):
        FromScratch(TOY, "torch/toy", config).run()


FAMILIES = {
    "hyperprior": ("hyperprior.torch.training", LEARNED_MODELS["bmshj2018-hyperprior"],
                   "torch/bmshj2018-hyperprior", {}),
    "hific": ("hyperprior.torch.adversarial_training", LEARNED_MODELS["hific"], "torch/hific",
              {"data": SAMPLE_DIR, "quality": 1, "patch_size": 192, "channels": (8, 12),
               "batch_size": 1, "warmup": 0.0}),
    "recurrent": ("recurrent.torch.training", RECURRENT_MODELS["toderici2017-gru"],
                  "torch/toderici2017-gru", {"quality": None, "patch_size": 32,
                                             "channels": (4, 8)}),
    "generative": ("generative.torch.training", GENERATIVE_MODELS["agustsson2019-gc"],
                   "torch/agustsson2019-gc", {"data": SAMPLE_DIR, "quality": 1,
                                              "patch_size": 192, "channels": (4, 1),
                                              "batch_size": 1, "warmup": 0.0}),
    "waveone": ("waveone.torch.training", WAVEONE_MODELS["rippel2017-waveone"],
                "torch/rippel2017-waveone", {"data": SAMPLE_DIR, "quality": None,
                                             "patch_size": 192, "channels": (8, 4),
                                             "batch_size": 1, "warmup": 0.0}),
    "tiled": ("tiled.torch.training", TILED_MODELS["minnen2017-tiled"],
              "torch/minnen2017-tiled", {"quality": None, "patch_size": 96,
                                         "channels": (8, 8), "batch_size": 1}),
    "tf": ("hyperprior.tf.training", LEARNED_MODELS["mbt2018-mean"], "tf/mbt2018-mean", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_writes_one_record_with_the_same_keys(family, small_photo_dir, tmp_path,
                                                           records, monkeypatch):
    if family == "tf":
        pytest.importorskip("tensorflow")
        pytest.importorskip("tensorflow_compression")
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path / "no-perceptual-weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    name, entry, codec_name, changes = FAMILIES[family]
    module = importlib.import_module(f"codecbench.codecs.learned.{name}")
    for table in ("CONTEXT_CROPS", "SYMBOL_CROPS"):  # count exported tables on few crops
        if hasattr(module, table):
            monkeypatch.setattr(module, table, 2)
    changes = {"data": small_photo_dir, **changes}
    config = tiny_config(changes.pop("data"), tmp_path / "run",
                         **{"steps": 1, "log_every": 1, **changes})
    result = module.train(entry, codec_name, config)
    assert result.finished and result.weights.exists()
    record = json.loads((tmp_path / "run" / "training.json").read_text())
    assert [json.loads(json.dumps(written)) for written in records] == [record]
    assert list(record)[:3] == ["codec", "model", "paper"]
    assert list(record)[-len(RECORD_KEYS) + 3:] == list(RECORD_KEYS[3:])
    assert record["codec"] == codec_name and record["model"] == entry.slug
    assert record["steps"] == 1 and record["config"] == config.to_json()
