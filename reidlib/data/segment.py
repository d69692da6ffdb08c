"""Person masks for real re-ID images.

    python -m reidlib.data.segment train --pennfudan ../shared/data/PennFudanPed
    python -m reidlib.data.segment evaluate --pennfudan ../shared/data/PennFudanPed
    python -m reidlib.data.segment masks --images DATASET_DIR --out DATASET_DIR/masks
    python -m reidlib.data.segment masks --images DIR --out DIR --backend deeplabv3 --weights FILE

``train`` fits the study's segmenter (:mod:`reidlib.data.segmenter`) on
Penn-Fudan crops, holding out 20 % of the scenes, checkpointing every epoch
(an interrupted run resumes), and writes the weights that ship with the
repository. ``evaluate`` reports its foreground IoU on the held-out
pedestrians. ``masks`` writes a label-map tree mirroring every image under
``--images`` (see :mod:`reidlib.data.masks`); the parts are split by height
(:func:`reidlib.data.masks.parts_from_foreground`), since the segmenter
only knows foreground from background.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from tqdm import tqdm

from .images import IMAGE_EXTENSIONS, find_images, read_image
from .masks import parts_from_foreground, write_label_map
from .segmenter import (
    WEIGHTS,
    PersonSegmenter,
    iou,
    load_scene,
    load_segmenter,
    pennfudan_pedestrians,
    predict_foreground,
    preprocess,
    reid_crop,
    split_scenes,
)

# torchvision's DeepLabV3 (ResNet-50) trained on COCO with the 20 VOC classes: "person" is class 15.
DEEPLAB_PERSON = 15
DEEPLAB_FILE = "deeplabv3_resnet50_coco-cd0a2569.pth"


def _augment(crop: torch.Tensor, fg: torch.Tensor, jitter: v2.Transform) -> tuple[torch.Tensor, torch.Tensor]:
    if torch.rand(1) < 0.5:
        crop, fg = crop.flip(-1), fg.flip(-1)
    crop = jitter(crop)
    if torch.rand(1) < 0.1:
        crop = v2.functional.rgb_to_grayscale(crop, num_output_channels=3)
    return crop, fg


def _eval_crops(scenes, names):
    crops, masks = [], []
    for name in names:
        for ped in scenes[name]:
            image, mask = load_scene(ped)
            c, m = reid_crop(image, mask, ped, rng=None)
            crops.append(c)
            masks.append(m)
    return torch.stack(crops), torch.stack(masks).bool()


def evaluate_segmenter(model, crops: torch.Tensor, masks: torch.Tensor) -> dict:
    """Overall and mean per-pedestrian foreground IoU on fixed crops."""
    model.eval()
    pred = torch.cat([predict_foreground(model, crops[i:i + 64]) for i in range(0, len(crops), 64)])
    per = [iou(p, t) for p, t in zip(pred, masks)]
    return {"iou": iou(pred, masks), "mean_iou": float(np.mean(per)), "pedestrians": len(per)}


def train(args) -> int:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    scenes = pennfudan_pedestrians(args.pennfudan)
    train_names, held_out = split_scenes(scenes, args.holdout, args.seed)
    loaded = {n: load_scene(scenes[n][0]) for n in train_names}
    peds = [p for n in train_names for p in scenes[n]]
    val_crops, val_masks = _eval_crops(scenes, held_out)
    model = PersonSegmenter(args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * -(-len(peds) // args.batch))
    jitter = v2.ColorJitter(0.4, 0.4, 0.4, 0.05)
    out = Path(args.out)
    partial = out.with_suffix(".partial.pt")
    start = 0
    if partial.exists():
        state = torch.load(partial, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start = state["epoch"] + 1
        print(f"resuming from {partial} at epoch {start}")
    bar = tqdm(range(start, args.epochs), desc="segmenter", initial=start, total=args.epochs)
    t0 = time.perf_counter()
    for epoch in bar:
        model.train()
        order = rng.permutation(len(peds))
        losses = []
        for s in range(0, len(order), args.batch):
            xs, ys = [], []
            for i in order[s:s + args.batch]:
                ped = peds[i]
                image, mask = loaded[Path(ped.image).stem]
                c, m = _augment(*reid_crop(image, mask, ped, rng), jitter)
                xs.append(c)
                ys.append(m)
            x = preprocess(torch.stack(xs))
            y = torch.stack(ys).unsqueeze(1)
            logits = model(x)
            prob = torch.sigmoid(logits)
            dice = 1 - (2 * (prob * y).sum((1, 2, 3)) + 1) / (prob.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1)
            loss = F.binary_cross_entropy_with_logits(logits, y) + dice.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        val = evaluate_segmenter(model, val_crops, val_masks)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", val_iou=f"{val['iou']:.3f}")
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "epoch": epoch}, partial)
    val = evaluate_segmenter(model, val_crops, val_masks)
    torch.save({"model": "PersonSegmenter", "width": args.width, "state_dict": model.state_dict(),
                "trained_on": "Penn-Fudan", "held_out_scenes": held_out, "seed": args.seed,
                "epochs": args.epochs, "held_out_iou": val}, out)
    partial.unlink(missing_ok=True)
    print(json.dumps({"weights": str(out), "train_pedestrians": len(peds), "held_out": val,
                      "minutes_this_run": round((time.perf_counter() - t0) / 60, 1)}, indent=2))
    return 0


def evaluate(args) -> int:
    model = load_segmenter(args.weights)
    ckpt = torch.load(args.weights, weights_only=True)
    scenes = pennfudan_pedestrians(args.pennfudan)
    crops, masks = _eval_crops(scenes, ckpt["held_out_scenes"])
    print(json.dumps(evaluate_segmenter(model, crops, masks), indent=2))
    return 0


class DeepLabPerson(torch.nn.Module):
    """torchvision's DeepLabV3-ResNet50 (COCO / VOC labels) reduced to person-vs-rest logits."""

    def __init__(self, weights: str):
        super().__init__()
        from torchvision.models.segmentation import deeplabv3_resnet50

        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(
                f"DeepLabV3 weights {path} not found. They are torchvision's {DEEPLAB_FILE} "
                f"(https://download.pytorch.org/models/{DEEPLAB_FILE}); download it on a machine with "
                "internet access and pass its path with --weights"
            )
        self.net = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
        try:
            self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a DeepLabV3-ResNet50 checkpoint with 21 classes: {exc}") from exc

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = self.net(x)["out"]
        person = out[:, DEEPLAB_PERSON:DEEPLAB_PERSON + 1]
        rest = torch.cat([out[:, :DEEPLAB_PERSON], out[:, DEEPLAB_PERSON + 1:]], 1).max(1, keepdim=True).values
        return F.interpolate(person - rest, scale_factor=0.5, mode="bilinear", align_corners=False)


def segment_into(model: torch.nn.Module, files: list, images_root: str | Path, out_root: str | Path,
                 batch: int = 128, progress: bool = True):
    """Write the label map of each image file to ``out_root``, mirroring ``images_root``.

    Yields ``(image path, (H, W) bool foreground)`` per file as it is written.
    """
    images_root, out_root = Path(images_root).resolve(), Path(out_root).resolve()
    for s in tqdm(range(0, len(files), batch), desc="masks", unit="batch", disable=not progress):
        paths = [Path(p).resolve() for p in files[s:s + batch]]
        images = [read_image(p) for p in paths]
        # Crops of one dataset share a size; group by size so each batch stacks.
        for size in {im.shape[-2:] for im in images}:
            idx = [i for i, im in enumerate(images) if im.shape[-2:] == size]
            fg = predict_foreground(model, torch.stack([images[i] for i in idx]))
            for i, f in zip(idx, fg):
                target = (out_root / paths[i].relative_to(images_root)).with_suffix(".png")
                write_label_map(target, parts_from_foreground(f.numpy()))
                yield paths[i], f


def write_masks(args) -> int:
    images_root = Path(args.images).resolve()
    if not images_root.is_dir():
        raise SystemExit(f"--images {images_root} is not a folder")
    out_root = Path(args.out).resolve()
    # A mask tree is never an image: neither the one being written nor an existing
    # <images>/masks (SynthReID's ground truth, or an earlier run's output) or <images>/roles (its role maps).
    files = find_images(images_root, skip=(out_root, images_root / "masks", images_root / "roles"))
    if not files:
        raise SystemExit(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {images_root}")
    if args.backend == "study":
        model = load_segmenter(args.weights or WEIGHTS, args.device)
    else:
        if not args.weights:
            raise SystemExit(f"--backend deeplabv3 needs --weights pointing at {DEEPLAB_FILE}")
        model = DeepLabPerson(args.weights).to(args.device).eval()
    fg_fraction = [float(f.float().mean()) for _, f in segment_into(model, files, images_root, out_root, args.batch)]
    print(json.dumps({"masks_written": len(fg_fraction), "out": str(out_root),
                      "mean_foreground_fraction": round(float(np.mean(fg_fraction)), 4)}, indent=2))
    return 0


def cached_masks(images_root: str | Path, name: str, progress: bool = True) -> Path:
    """The segmenter's mask tree of a real dataset folder, written once to ``.cache/masks/<name>``.

    A ``complete`` file marks a finished tree, so a cut-off run writes it again
    rather than leave images without masks. One process writes at a time (two
    notebooks side by side ask for the same tree): the other waits, then
    reuses it.
    """
    from ..engine.runlock import build_once
    from ..paths import REPO_ROOT

    images_root = Path(images_root).resolve()
    if not images_root.is_dir():
        raise FileNotFoundError(f"no dataset folder at {images_root}")
    out = REPO_ROOT / ".cache" / "masks" / name

    def build():
        # The cache may sit inside the dataset folder (a dataset kept in the repository).
        files = find_images(images_root, skip=(images_root / "masks", images_root / "roles", out))
        for _ in segment_into(load_segmenter(WEIGHTS), files, images_root, out, progress=progress):
            pass
        (out / "complete").write_text(f"{len(files)} masks of {images_root}\n")

    build_once((out / "complete").exists, build, out, "write.lock", "writing masks into")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.segment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the study's segmenter on Penn-Fudan")
    t.add_argument("--pennfudan", required=True)
    t.add_argument("--out", default=str(WEIGHTS))
    t.add_argument("--epochs", type=int, default=80)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--holdout", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("evaluate", help="foreground IoU on the held-out Penn-Fudan pedestrians")
    e.add_argument("--pennfudan", required=True)
    e.add_argument("--weights", default=str(WEIGHTS))
    m = sub.add_parser("masks", help="write label maps for every image under a folder")
    m.add_argument("--images", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--backend", choices=("study", "deeplabv3"), default="study")
    m.add_argument("--weights", help="weights file (default: the study's shipped segmenter)")
    m.add_argument("--device", default="cpu")
    m.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    try:
        return {"train": train, "evaluate": evaluate, "masks": write_masks}[args.command](args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
