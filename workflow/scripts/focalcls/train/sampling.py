"""Training batches: length-grouped, reproducible per epoch, and optionally drawn by each row's last loss."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from transformers import TrainerCallback
from transformers.trainer_pt_utils import get_length_grouped_indices

STATE_FILE = "row_losses.pt"


class RowLosses:
    """The last training loss seen for every row, agreed on by all processes at each epoch's end.

    During an epoch each process only sees its own share of the rows, so losses are summed locally and
    merged at the epoch's end; a row drawn twice gets the mean of its losses. A checkpoint keeps the losses
    merged at the last epoch end: a run resumed mid-epoch loses the ones gathered since, and those rows keep
    their previous loss for the next draw.
    """

    def __init__(self, n_rows: int):
        self.values = torch.full((n_rows,), float("nan"))
        self._sum = torch.zeros(n_rows)
        self._count = torch.zeros(n_rows)

    def record(self, rows: torch.Tensor, losses: torch.Tensor) -> None:
        rows, losses = rows.detach().cpu().long(), losses.detach().float().cpu()
        self._sum.index_add_(0, rows, losses)
        self._count.index_add_(0, rows, torch.ones_like(losses))

    def end_epoch(self) -> None:
        """Merge this epoch's losses over processes (a collective call: every process must make it)."""
        if dist.is_available() and dist.is_initialized():
            both = torch.stack([self._sum, self._count])
            if dist.get_backend() == "nccl":
                both = both.cuda()
            dist.all_reduce(both)
            self._sum, self._count = both.cpu().unbind(0)
        seen = self._count > 0
        self.values[seen] = self._sum[seen] / self._count[seen]
        self._sum, self._count = torch.zeros_like(self._sum), torch.zeros_like(self._count)

    def weights(self, floor: float) -> torch.Tensor:
        """Sampling weights: the last loss, never below `floor` times the mean loss, so no row vanishes.
        Rows never seen yet weigh as much as the hardest row, so they are seen soon."""
        values = self.values.clone()
        known = ~torch.isnan(values)
        if not known.any():
            return torch.ones_like(values)
        values[~known] = values[known].max()
        return values.clamp(min=floor * float(values.mean())).clamp(min=1e-12)

    def state_dict(self) -> dict:
        return {"values": self.values}

    def load_state_dict(self, state: dict) -> None:
        self.values = state["values"].clone()


class EpochSampler(torch.utils.data.Sampler):
    """Length-grouped shuffles seeded by (seed, epoch), so a resumed run replays the epoch it was killed in
    exactly, and every process draws the same order. With `losses`, epochs after the first draw
    len(rows) rows with replacement, in proportion to RowLosses.weights (difficulty-aware batches).
    SamplerCallback tells it the epoch (accelerate's own set_epoch does not reach it in every setup).
    """

    def __init__(
        self, lengths: Sequence[int], group_size: int, *, seed: int, losses: RowLosses | None = None, floor: float = 0.2
    ):
        self.lengths, self.group_size, self.seed = list(lengths), group_size, seed
        self.losses, self.floor, self.epoch = losses, floor, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        weights = self.losses.weights(self.floor) if self.losses is not None and self.epoch > 0 else None
        if weights is None or bool((weights == weights[0]).all()):
            drawn = torch.randperm(len(self.lengths), generator=generator)
        else:
            drawn = torch.multinomial(weights, len(self.lengths), replacement=True, generator=generator)
        drawn = drawn.tolist()
        order = get_length_grouped_indices([self.lengths[i] for i in drawn], self.group_size, generator=generator)
        return iter([drawn[i] for i in order])


class SamplerCallback(TrainerCallback):
    """Keeps EpochSampler in step with training.

    on_epoch_begin tells it the epoch: accelerate's set_epoch does not reach a sampler wrapped for
    several processes and for skipping the batches already done, so a resumed multi-process run would
    otherwise replay epoch 0's order. Row losses are merged at the epoch's last optimizer step rather than
    in on_epoch_end, because Trainer saves that step's checkpoint before on_epoch_end, and a run resumed
    from it must find the merged losses; each checkpoint keeps them.
    """

    def __init__(self, sampler: EpochSampler):
        self.sampler = sampler

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.sampler.set_epoch(int(state.epoch or 0))  # a resumed run restarts inside epoch int(state.epoch)

    def on_step_end(self, args, state, control, **kwargs):
        if self.sampler.losses is not None and state.epoch and float(state.epoch).is_integer():
            self.sampler.losses.end_epoch()

    def on_save(self, args, state, control, **kwargs):
        if self.sampler.losses is not None and state.is_world_process_zero:
            folder = f"{args.output_dir}/checkpoint-{state.global_step}"
            torch.save(self.sampler.losses.state_dict(), f"{folder}/{STATE_FILE}")
