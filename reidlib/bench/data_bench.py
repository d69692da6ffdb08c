"""Training images per second through the input pipeline (decode + augment + collate).

Images are written once to a temporary folder as JPEGs at Market-1501's
native 128 x 64 (with masks), then read through ``ReIDImages`` with the
training transforms at each output size, P x K sampled, by ``--workers``
DataLoader workers. The figure to compare with is the training throughput
of the model the pipeline feeds (``python -m reidlib.bench train``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = {"256x128": (256, 128), "128x64": (128, 64)}


def write_images(root: Path, num_ids: int = 100, per_id: int = 8, size=(128, 64)):
    from reidlib.data.masks import write_label_map
    from reidlib.data.records import Record

    rng = np.random.default_rng(0)
    records = []
    for pid in range(num_ids):
        for k in range(per_id):
            img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            path = root / "train" / f"{pid:04d}_c{k % 6}s1_{k:06d}_00.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(path, quality=90)
            labels = np.zeros(size, np.uint8)
            labels[size[0] // 8:, size[1] // 4: 3 * size[1] // 4] = 2
            write_label_map(root / "masks" / "train" / path.with_suffix(".png").name, labels)
            records.append(Record(str(path), pid, k % 6))
    return records


def _endless(loader):
    """Batches across epochs, as a long training run sees them."""
    epoch = 0
    while True:
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default="256x128,128x64", help=f"comma-separated: {', '.join(SIZES)}")
    parser.add_argument("--workers", default="0,2", help="comma-separated DataLoader worker counts")
    parser.add_argument("--batches", type=int, default=30, help="batches timed per setting (after 3 warm-up)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--masks", action="store_true", help="also load masks (background transforms need them)")


def run(args) -> int:
    from reidlib.data.loaders import ReIDImages, train_loader
    from reidlib.data.masks import MaskSource
    from reidlib.data.transforms import build_transforms

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        records = write_images(root)
        masks = MaskSource(root) if args.masks else None
        for size in args.sizes.split(","):
            h, w = SIZES[size]
            for workers in map(int, args.workers.split(",")):
                ds = ReIDImages(records, build_transforms(h, w, train=True), masks)
                loader = train_loader(ds, batch_size=args.batch_size, num_instances=4, num_workers=workers)
                it = _endless(loader)
                for _ in range(3):  # warm-up: worker start-up is not throughput
                    next(it)
                n, t0 = 0, time.perf_counter()
                for _ in range(args.batches):
                    n += next(it)["image"].shape[0]
                dt = time.perf_counter() - t0
                print(f"data  {size:8s} workers {workers}  masks {'yes' if masks else 'no ':3s}  "
                      f"{n / dt:8.0f} images/s  ({n} images in {dt:.2f} s)", flush=True)
    return 0
