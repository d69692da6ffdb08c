"""Identity-balanced (P x K) batch sampling for metric-learning losses.

A batch holds P identities with K images each, so that every anchor of a
batch-hard triplet loss has positives and negatives. The K images of an
identity are spread over as many cameras as it has: taking them round-robin
across cameras means the positives of a pair usually differ in camera, and
so in background, which is what re-ID must learn to ignore.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


class IdentitySampler(Sampler[int]):
    """Yields dataset indices in batches of ``batch_size`` = P x ``num_instances``.

    Args:
        pids, camids: identity and camera of every dataset item.
        batch_size: P x K.
        num_instances: K, images per identity in a batch.
        seed: with ``set_epoch``, makes every epoch's order reproducible.
        rank, world_size: this process's share in distributed training.

    An epoch goes through (nearly) every image once, as in the BoT baseline:
    each identity's images, ordered round-robin over its cameras, are cut
    into groups of K (an identity with fewer than K images repeats some, and
    gives one group; leftovers short of K wait for another epoch); batches
    take P distinct identities at random from those with groups left, until
    fewer than P remain. So "epochs" mean what they mean in the papers.

    Distributed training (``world_size`` > 1): every process draws the same
    global batches and keeps its own ``1 / world_size`` of each batch's
    identities, so the global batch (and so the hyper-parameters) stays the
    same whatever the number of processes; each process's DataLoader then
    uses a batch size of ``batch_size / world_size``.
    """

    def __init__(self, pids: Sequence[int], camids: Sequence[int], batch_size: int, num_instances: int = 4,
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        super().__init__()
        if num_instances < 1 or batch_size % num_instances != 0:
            raise ValueError(f"batch_size ({batch_size}) must be a multiple of num_instances ({num_instances})")
        if (batch_size // num_instances) % world_size != 0:
            raise ValueError(f"{batch_size // num_instances} identities per batch cannot be split evenly over "
                             f"{world_size} processes: make batch_size / num_instances a multiple of {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        if len(pids) != len(camids):
            raise ValueError(f"{len(pids)} identities for {len(camids)} cameras")
        self.rank, self.world_size = rank, world_size
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
        self._length: tuple[int, int] | None = None  # (epoch, number of indices)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _groups(self, pid: int, rng: random.Random) -> list[list[int]]:
        """One identity's images in groups of K, taken round-robin over its cameras in random order."""
        cams = list(self.by_pid[pid].values())
        rng.shuffle(cams)
        queues = [rng.sample(c, len(c)) for c in cams]
        order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
        k = self.num_instances
        if len(order) < k:
            return [[order[i % len(order)] for i in range(k)]]
        return [order[i:i + k] for i in range(0, len(order) - k + 1, k)]

    def _batches(self) -> Iterator[list[list[int]]]:
        """The global batches of this epoch, each a list of P groups."""
        rng = random.Random(self.seed * 100_003 + self.epoch)
        groups = {pid: self._groups(pid, rng) for pid in self.pids}
        available = [pid for pid in self.pids if groups[pid]]
        while len(available) >= self.ids_per_batch:
            chosen = rng.sample(available, self.ids_per_batch)
            yield [groups[pid].pop() for pid in chosen]
            available = [pid for pid in available if groups[pid]]

    def __iter__(self) -> Iterator[int]:
        share = self.ids_per_batch // self.world_size  # identities of a batch that this process takes
        for batch in self._batches():
            for group in batch[self.rank * share:(self.rank + 1) * share]:
                yield from group

    def __len__(self) -> int:
        if self._length is None or self._length[0] != self.epoch:
            per_batch = self.ids_per_batch // self.world_size * self.num_instances
            self._length = (self.epoch, per_batch * sum(1 for _ in self._batches()))
        return self._length[1]
