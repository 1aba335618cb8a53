from collections import Counter

import pytest
import torch

from conftest import synthetic_rows
from focalcls.config.loading import complete
from focalcls.train.presets import LossSpec
from focalcls.train.sampling import EpochSampler, RowLosses
from focalcls.train.settings import TrainSettings
from focalcls.train.training import train_preset


def test_row_losses_average_repeats_and_keep_rows_not_seen_again():
    losses = RowLosses(4)
    losses.record(torch.tensor([0, 1, 1]), torch.tensor([1.0, 2.0, 4.0]))
    losses.end_epoch()
    assert losses.values[:2].tolist() == [1.0, 3.0] and torch.isnan(losses.values[2:]).all()
    losses.record(torch.tensor([0]), torch.tensor([5.0]))
    losses.end_epoch()
    assert losses.values[:2].tolist() == [5.0, 3.0]  # row 1 was not drawn: its last loss stays


def test_weights_follow_the_loss_with_a_floor_and_unseen_rows_weigh_most():
    losses = RowLosses(4)
    losses.record(torch.tensor([0, 1, 2]), torch.tensor([0.0, 2.0, 8.0]))
    losses.end_epoch()
    weights = losses.weights(floor=0.25)
    mean = (0.0 + 2.0 + 8.0 + 8.0) / 4  # the unseen row counts as the hardest one
    assert weights.tolist() == pytest.approx([0.25 * mean, 2.0, 8.0, 8.0])


def test_no_losses_yet_means_uniform_weights():
    assert RowLosses(3).weights(floor=0.2).tolist() == [1.0, 1.0, 1.0]


def test_epoch_order_depends_only_on_seed_and_epoch():
    lengths = [5, 9, 3, 7, 2, 8, 6, 4] * 4
    a, b = EpochSampler(lengths, 4, seed=1), EpochSampler(lengths, 4, seed=1)
    a.set_epoch(3), b.set_epoch(3)
    assert list(a) == list(b) and sorted(a) == list(range(len(lengths)))
    b.set_epoch(4)
    assert list(a) != list(b)


def test_batches_are_grouped_by_length():
    lengths = list(range(1, 257))
    order = list(EpochSampler(lengths, 16, seed=0))
    padded = sum(16 * max(lengths[i] for i in order[k : k + 16]) for k in range(0, 256, 16))
    shuffled = torch.randperm(256, generator=torch.Generator().manual_seed(0)).tolist()
    padded_random = sum(16 * max(lengths[i] for i in shuffled[k : k + 16]) for k in range(0, 256, 16))
    assert padded < 0.7 * padded_random


def test_later_epochs_draw_rows_in_proportion_to_their_loss():
    losses = RowLosses(100)
    losses.record(torch.arange(100), torch.tensor([10.0] * 10 + [0.1] * 90))
    losses.end_epoch()
    sampler = EpochSampler([3] * 100, 8, seed=0, losses=losses, floor=0.01)
    assert sorted(sampler) == list(range(100))  # epoch 0 is a plain shuffle
    sampler.set_epoch(1)
    drawn = Counter(sampler)
    hard = sum(drawn[i] for i in range(10))
    assert sum(drawn.values()) == 100 and hard > 80  # 10 rows hold 100/109 of the weight


def test_training_with_hard_example_sampling_draws_by_loss(tiny_model_dir, tmp_path, monkeypatch):
    draws = []
    plain_iter = EpochSampler.__iter__

    def recording_iter(self):
        order = list(plain_iter(self))
        draws.append((self.epoch, order))
        return iter(order)

    monkeypatch.setattr(EpochSampler, "__iter__", recording_iter)
    rows = synthetic_rows({"sports": 40, "finance": 20, "tech": 8})
    labels = ["sports", "finance", "tech"]
    settings = TrainSettings.from_config(
        {
            **complete({})["train"],
            "epochs": 3,
            "batch_size": 8,
            "lr": 5e-3,
            "precision": "fp32",
            "patience": 10,
            "hard_example_sampling": True,
            "hard_example_floor": 0.05,
        },
        seed=0,
    )
    summary = train_preset(
        train=rows,
        val=rows.iloc[:12],
        labels=labels,
        checkpoint=str(tiny_model_dir),
        loss=LossSpec(loss="focal", form="softmax", gamma=2.0, alpha=None),
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
        settings=settings,
        max_length=16,
        out_dir=tmp_path / "p",
        preset_name="hard",
        dtype="auto",
        trust_remote_code=False,
    )
    assert summary["hard_example_sampling"] and summary["steps"] == 27
    assert [epoch for epoch, _ in draws] == [0, 1, 2]  # Trainer told the sampler each epoch
    assert sorted(draws[0][1]) == list(range(len(rows)))  # the first epoch sees every row once
    assert len(set(draws[1][1])) < len(rows)  # then rows are drawn with replacement, by loss
