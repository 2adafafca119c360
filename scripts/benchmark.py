"""Measure msfm pretraining speed on the machine at hand (not a test: it prints measured figures).

For the tiny (demo) and base (paper-scale) networks, built from the bundle configs, it prints:
  * training pairs/s (forward + backward + AdamW step, all four loss terms) and peak memory;
  * the time of each loss term (forward + backward of the loss alone, on fixed network outputs);
  * decode + preprocess images/s of 1024^2 JPEG-Baseline DICOMs, cold and from MONAI's disk cache.

Usage:
    python scripts/benchmark.py                      # tiny and base, CPU or the first GPU
    python scripts/benchmark.py --configs tiny --steps 20 --amp
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch
from monai.bundle import ConfigParser

from msfm.losses import MultiScaleLoss

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
CONFIGS = BUNDLES / "msfm" / "configs"
SETTINGS = {
    "tiny": {"files": ["train.json", "demo.json"], "vocab_size": 600},
    "base": {"files": ["train.json"], "vocab_size": 30522},
}


def build(name: str, device: torch.device):
    """Network, loss and optimizer of a bundle setting, without data or tokenizer."""
    parser = ConfigParser()
    workflow = BUNDLES / "common" / "configs" / "workflow.json"
    parser.read_config([str(workflow), *(str(CONFIGS / f) for f in SETTINGS[name]["files"])])
    parser.update(
        {
            "text_encoder#tokenizer": None,  # no data: the vocabulary size and special ids are given instead
            "text_encoder#vocab_size": SETTINGS[name]["vocab_size"],
            "text_encoder#mask_token_id": 4,
            "text_encoder#pad_token_id": 0,
            "device": device,
        }
    )
    network, loss = parser.get_parsed_content("network"), parser.get_parsed_content("loss")
    sizes = {key: parser.get_parsed_content(key) for key in ("image_size", "batch_size", "max_length", "max_sentences")}
    return network, loss, parser.get_parsed_content("optimizer"), sizes


def synthetic_batch(batch: int, image_size: int, length: int, sentences: int, vocab: int, device: torch.device):
    ids = torch.randint(5, vocab, (batch, length), device=device)
    ids[:, 0], ids[:, -1] = 2, 3
    per_sentence = (length - 2) // sentences
    owner = torch.full((batch, length), -1, device=device)
    owner[:, 1 : 1 + per_sentence * sentences] = torch.arange(sentences, device=device).repeat_interleave(per_sentence)
    images = torch.randn(batch, 1, image_size, image_size, device=device)
    return images, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "sentence_index": owner}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_training(name: str, device: torch.device, steps: int, batch_size: int | None, amp: bool) -> None:
    network, loss_fn, optimizer, sizes = build(name, device)
    batch = batch_size or sizes["batch_size"]
    images, text = synthetic_batch(
        batch, sizes["image_size"], sizes["max_length"], sizes["max_sentences"], network.text_encoder.vocab_size, device
    )
    network.train()
    needs = {"reconstruction": loss_fn.needs_reconstruction, "matching": loss_fn.needs_matching}

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(network(images, **text, **needs))["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    params = sum(p.numel() for p in network.parameters()) / 1e6
    print(
        f"[{name}] {params:.1f} M params, image {sizes['image_size']}px, batch {batch}, "
        f"{'bf16 AMP' if amp else 'fp32'}: "
        f"{batch / seconds:.1f} pairs/s ({seconds * 1000:.0f} ms/step), peak memory {peak_memory_mib(device):.0f} MiB"
    )

    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        outputs = network(images, **text, **needs)
    fixed = {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in outputs.items()}
    scales = ("global", "local", "instance", "modality")
    sub_losses = {f"{scale}_loss": getattr(loss_fn, f"{scale}_loss") for scale in scales}
    # one term at a time, routed by the objective itself
    terms = {term: MultiScaleLoss(**{f"{s}_weight": float(s == term) for s in scales}, **sub_losses) for term in scales}
    report = []
    for term, compute in terms.items():
        timings = []
        for _ in range(3):
            synchronize(device)
            start = time.perf_counter()
            compute(fixed)["total"].float().backward()
            synchronize(device)
            timings.append(time.perf_counter() - start)
        report.append(f"{term} {min(timings) * 1000:.1f} ms")
    print(f"[{name}] loss terms (forward + backward on fixed outputs): " + ", ".join(report))


def bench_io(count: int, image_size: int = 224, source_size: int = 1024) -> None:
    """Decode + preprocess speed of JPEG-Baseline DICOMs like RSNA's and SIIM's, cold and from the disk cache."""
    import tempfile

    import numpy as np
    from monai.data import Dataset, PersistentDataset
    from monai.transforms import Compose, LoadImaged, Resized, SpatialPadd

    from msfm.data import RadiographReader, make_dicom
    from msfm.demo import synthesize_case

    rng = np.random.default_rng(0)
    transform = Compose(
        [
            LoadImaged(keys="image", reader=RadiographReader(), image_only=True, ensure_channel_first=True),
            Resized(keys="image", spatial_size=image_size, size_mode="longest", mode="area"),
            SpatialPadd(keys="image", spatial_size=(image_size, image_size)),
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = []
        for index in range(count):
            pixels = (synthesize_case(rng, source_size)[0] * 255).astype(np.uint8)
            path = Path(tmp) / f"{index}.dcm"
            make_dicom(pixels, jpeg=True).save_as(path, enforce_file_format=True)
            data.append({"image": str(path)})

        def images_per_second(dataset) -> float:
            start = time.perf_counter()
            for index in range(len(dataset)):
                dataset[index]
            return len(dataset) / (time.perf_counter() - start)

        cold = images_per_second(Dataset(data, transform))
        cached = PersistentDataset(data, transform, cache_dir=Path(tmp) / "cache")
        first = images_per_second(cached)
        warm = images_per_second(cached)
    print(
        f"[image I/O] {count} JPEG-Baseline DICOMs {source_size}^2 -> {image_size}^2, one process: decode + "
        f"preprocess {cold:.1f} images/s cold, {first:.1f} images/s while filling the disk cache, "
        f"{warm:.1f} images/s from the cache"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per config")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's (base: 8 on CPU)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--io-images", type=int, default=40, help="DICOMs for the image I/O benchmark (0: skip)")
    args = parser.parse_args()
    device = torch.device(args.device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"device: {device} ({hardware}), torch {torch.__version__}")
    for name in args.configs:
        batch = args.batch_size or (8 if name == "base" and device.type == "cpu" else None)
        bench_training(name, device, args.steps, batch, args.amp)
    if args.io_images:
        bench_io(args.io_images)


if __name__ == "__main__":
    main()
