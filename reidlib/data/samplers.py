"""Identity-balanced (P x K) batch sampling for metric-learning losses.

A batch holds P identities with K images each, so that every anchor of a
batch-hard triplet loss has positives and negatives. The K images of an
identity are spread over as many cameras as it has: taking them round-robin
across cameras means the positives of a pair usually differ in camera, and
so in background, which is what re-ID must learn to ignore.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class IdentitySampler(Sampler[int]):
    """Yields dataset indices in batches of ``batch_size`` = P x ``num_instances``.

    Args:
        pids, camids: identity and camera of every dataset item.
        batch_size: P x K.
        num_instances: K, images per identity in a batch.
        seed: with ``set_epoch``, makes every epoch's order reproducible.

    An identity with fewer than K images repeats some (round-robin, so each
    image appears before any repeats). Each epoch uses every identity once;
    identities that do not fill a last batch of P are dropped for that epoch.
    """

    def __init__(self, pids: Sequence[int], camids: Sequence[int], batch_size: int, num_instances: int = 4,
                 seed: int = 0):
        super().__init__()
        if num_instances < 1 or batch_size % num_instances != 0:
            raise ValueError(f"batch_size ({batch_size}) must be a multiple of num_instances ({num_instances})")
        if len(pids) != len(camids):
            raise ValueError(f"{len(pids)} identities for {len(camids)} cameras")
        self.num_instances = num_instances
        self.ids_per_batch = batch_size // num_instances
        self.by_pid: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for index, (pid, cam) in enumerate(zip(pids, camids)):
            self.by_pid[int(pid)][int(cam)].append(index)
        self.pids = sorted(self.by_pid)
        if len(self.pids) < self.ids_per_batch:
            raise ValueError(f"{len(self.pids)} identities cannot fill a batch of {self.ids_per_batch} identities")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _instances(self, pid: int, gen: torch.Generator) -> list[int]:
        """K indices of one identity, taken round-robin over its cameras in random order."""
        cams = list(self.by_pid[pid].values())
        cams = [cams[i] for i in torch.randperm(len(cams), generator=gen)]
        queues = [[c[i] for i in torch.randperm(len(c), generator=gen)] for c in cams]
        order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
        return [order[i % len(order)] for i in range(self.num_instances)]

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        pids = [self.pids[i] for i in torch.randperm(len(self.pids), generator=gen)]
        usable = len(pids) - len(pids) % self.ids_per_batch
        for pid in pids[:usable]:
            yield from self._instances(pid, gen)

    def __len__(self) -> int:
        return (len(self.pids) - len(self.pids) % self.ids_per_batch) * self.num_instances
