"""Algorithmic tasks from the NTM paper (Graves et al. 2014, section 4).

Each task samples a batch as ``Batch(inputs [T, B, I], targets [T, B, O], mask [T, B])``;
the loss and the cost in bits are taken only where ``mask`` is 1 (the answer phase).
All sequences in one batch share a length, drawn per batch from the training range.

* copy: a sequence of random ``bits``-wide binary vectors, then a delimiter flag; the
  model must then output the sequence with no further input.
* repeat copy: the sequence, then the number of copies (scaled) on its own channel; the
  output is the sequence repeated that many times, then an end marker.
* associative recall: ``n`` items of ``item_len`` vectors each, delimited on one channel,
  then a query item delimited on another; the answer is the item that followed the query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LN2 = math.log(2.0)


@dataclass
class Batch:
    inputs: torch.Tensor  # [T, B, I]
    targets: torch.Tensor  # [T, B, O]
    mask: torch.Tensor  # [T, B]


def _bits(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen).float()


@dataclass
class CopyTask:
    bits: int = 8
    min_len: int = 1
    max_len: int = 20
    name: str = "copy"

    @property
    def input_size(self) -> int:
        return self.bits + 1

    @property
    def output_size(self) -> int:
        return self.bits

    def sample_length(self, gen: torch.Generator) -> int:
        return int(torch.randint(self.min_len, self.max_len + 1, (1,), generator=gen))

    def batch(self, batch_size: int, length: int, gen: torch.Generator) -> Batch:
        seq = _bits((length, batch_size, self.bits), gen)
        t = 2 * length + 1
        inputs = torch.zeros(t, batch_size, self.input_size)
        inputs[:length, :, : self.bits] = seq
        inputs[length, :, self.bits] = 1.0  # delimiter
        targets = torch.zeros(t, batch_size, self.output_size)
        targets[length + 1 :] = seq
        mask = torch.zeros(t, batch_size)
        mask[length + 1 :] = 1.0
        return Batch(inputs, targets, mask)


@dataclass
class RepeatCopyTask:
    bits: int = 8
    min_len: int = 1
    max_len: int = 10
    min_repeats: int = 1
    max_repeats: int = 10
    repeat_scale: float = 10.0  # the repeat count is given as n / repeat_scale
    name: str = "repeat-copy"

    @property
    def input_size(self) -> int:
        return self.bits + 2  # bits, start flag, repeat channel

    @property
    def output_size(self) -> int:
        return self.bits + 1  # bits, end marker

    def sample_length(self, gen: torch.Generator) -> int:
        return int(torch.randint(self.min_len, self.max_len + 1, (1,), generator=gen))

    def sample_repeats(self, gen: torch.Generator) -> int:
        return int(torch.randint(self.min_repeats, self.max_repeats + 1, (1,), generator=gen))

    def batch(
        self, batch_size: int, length: int, gen: torch.Generator, repeats: int | None = None
    ) -> Batch:
        n = repeats if repeats is not None else self.sample_repeats(gen)
        seq = _bits((length, batch_size, self.bits), gen)
        t_in = length + 2  # start flag, sequence, repeat count
        t = t_in + n * length + 1
        inputs = torch.zeros(t, batch_size, self.input_size)
        inputs[0, :, self.bits] = 1.0
        inputs[1 : 1 + length, :, : self.bits] = seq
        inputs[1 + length, :, self.bits + 1] = n / self.repeat_scale
        targets = torch.zeros(t, batch_size, self.output_size)
        targets[t_in : t_in + n * length, :, : self.bits] = seq.repeat(n, 1, 1)
        targets[t - 1, :, self.bits] = 1.0
        mask = torch.zeros(t, batch_size)
        mask[t_in:] = 1.0
        return Batch(inputs, targets, mask)


@dataclass
class AssociativeRecallTask:
    bits: int = 6
    item_len: int = 3
    min_items: int = 2
    max_items: int = 6
    name: str = "associative-recall"

    @property
    def input_size(self) -> int:
        return self.bits + 2  # bits, item delimiter, query delimiter

    @property
    def output_size(self) -> int:
        return self.bits

    def sample_length(self, gen: torch.Generator) -> int:
        return int(torch.randint(self.min_items, self.max_items + 1, (1,), generator=gen))

    def batch(self, batch_size: int, length: int, gen: torch.Generator) -> Batch:
        n, k = length, self.item_len
        if n < 2:
            raise ValueError("associative recall needs at least 2 items")
        items = _bits((n, k, batch_size, self.bits), gen)
        query = torch.randint(0, n - 1, (batch_size,), generator=gen)
        ar = torch.arange(batch_size)
        q_item = items[query, :, ar].transpose(0, 1)  # [k, B, bits]
        answer = items[query + 1, :, ar].transpose(0, 1)
        t_items = n * (k + 1)
        t = t_items + (k + 2) + k
        inputs = torch.zeros(t, batch_size, self.input_size)
        for i in range(n):
            s = i * (k + 1)
            inputs[s, :, self.bits] = 1.0
            inputs[s + 1 : s + 1 + k, :, : self.bits] = items[i]
        inputs[t_items, :, self.bits + 1] = 1.0
        inputs[t_items + 1 : t_items + 1 + k, :, : self.bits] = q_item
        inputs[t_items + 1 + k, :, self.bits + 1] = 1.0
        targets = torch.zeros(t, batch_size, self.output_size)
        targets[t - k :] = answer
        mask = torch.zeros(t, batch_size)
        mask[t - k :] = 1.0
        return Batch(inputs, targets, mask)


Task = CopyTask | RepeatCopyTask | AssociativeRecallTask


def masked_bce(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean binary cross-entropy (nats) per masked output bit."""
    loss = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
    m = batch.mask.unsqueeze(-1).expand_as(loss)
    return (loss * m).sum() / m.sum().clamp_min(1.0)


def sequence_costs(logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
    """(cross-entropy in bits per sequence, wrong bits per sequence after thresholding).

    The first is the NTM paper's "cost per sequence (bits)"; the second counts output bits
    whose rounded prediction differs from the target. Both are means over the batch.
    """
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
        m = batch.mask.unsqueeze(-1)
        b = logits.shape[1]
        bits = float((bce * m).sum() / LN2 / b)
        wrong = ((logits > 0).float() != batch.targets).float()
        errors = float((wrong * m).sum() / b)
    return bits, errors


def chance_bits_per_sequence(batch: Batch) -> float:
    """Cost of predicting p=0.5 everywhere: one bit per masked output bit."""
    return float(batch.mask.sum() * batch.targets.shape[-1] / batch.targets.shape[1])
