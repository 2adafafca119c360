"""Measure msfm pretraining speed on the machine at hand (not a test: it prints measured figures).

For the tiny (demo) and base (paper-scale) networks, built from the bundle configs, it prints:
  * training pairs/s (forward + backward + AdamW step, all four loss terms) and peak memory;
  * the time of each loss term (forward + backward of the loss alone, on fixed network outputs);
  * the vectorised local loss against a per-report loop implementation of the same equation
    (speed ratio and max abs difference), at B=64, R=196, S=12, D=768 by default;
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
import torch.nn.functional as F
from monai.bundle import ConfigParser

from msfm.losses import LocalAlignmentLoss, local_alignment_scores

CONFIGS = Path(__file__).resolve().parents[1] / "bundles" / "msfm" / "configs"
SETTINGS = {
    "tiny": {"files": ["train.json", "demo.json"], "vocab_size": 600},
    "base": {"files": ["train.json"], "vocab_size": 30522},
}


def build(name: str, device: torch.device):
    """Network, loss and optimizer of a bundle setting, without data or tokenizer."""
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / f) for f in SETTINGS[name]["files"]])
    parser.update(
        {
            "vocab_size": SETTINGS[name]["vocab_size"],
            "text_encoder#mask_token_id": 4,
            "text_encoder#pad_token_id": 0,
            "loss_def#instance_loss#pad_token_id": 0,
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

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(network(images, **text))
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
        outputs = network(images, **text)
    fixed = {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in outputs.items()}
    terms = {
        "global": lambda o: loss_fn.global_loss(o["image_emb"], o["text_emb"]),
        "local": lambda o: loss_fn.local_loss(o["region_emb"], o["sentence_emb"], o["sentence_mask"]),
        "instance": lambda o: loss_fn.instance_loss(o["image_emb"], o["text_emb"], loss_fn.match_head, o["input_ids"]),
        "modality_image": lambda o: loss_fn.modality_loss.masked_image_loss(
            o["mae_pred"], o["mae_target"], o["mae_mask"]
        ),
        "modality_text": lambda o: loss_fn.modality_loss.masked_language_loss(o["mlm_logits"], o["mlm_labels"]),
    }
    report = []
    for term, compute in terms.items():
        timings = []
        for _ in range(3):
            synchronize(device)
            start = time.perf_counter()
            compute(fixed).float().backward()
            synchronize(device)
            timings.append(time.perf_counter() - start)
        report.append(f"{term} {min(timings) * 1000:.1f} ms")
    print(f"[{name}] loss terms (forward + backward on fixed outputs): " + ", ".join(report))


def loop_scores(regions, sentences, mask, gamma1=4.0, gamma2=5.0):
    """``Z(i, k)`` with a Python loop over reports (GLoRIA-style), materialising each context vector."""
    columns = []
    for k in range(sentences.shape[0]):
        text = F.normalize(sentences[k][mask[k]], dim=-1)  # [s, D]
        attn = torch.softmax(gamma1 * torch.einsum("ird,sd->isr", F.normalize(regions, dim=-1), text), dim=-1)
        context = torch.einsum("isr,ird->isd", attn, regions)
        cos_ct = F.cosine_similarity(context, text[None], dim=-1)  # [I, s]
        columns.append(torch.logsumexp(gamma2 * cos_ct, dim=-1) / gamma2)
    return torch.stack(columns, dim=1)


def loop_loss(regions, sentences, mask, temperature=0.1):
    scores = loop_scores(regions, sentences, mask) / temperature
    labels = torch.arange(scores.shape[0], device=scores.device)
    return (F.cross_entropy(scores, labels) + F.cross_entropy(scores.t(), labels)) / 2


def bench_local_loss(device: torch.device, batch: int, regions: int, sentences: int, dim: int, repeats: int) -> None:
    generator = torch.Generator().manual_seed(0)
    region_emb = torch.randn(batch, regions, dim, generator=generator).to(device)
    sentence_emb = torch.randn(batch, sentences, dim, generator=generator).to(device)
    mask = (torch.rand(batch, sentences, generator=generator) > 0.3).to(device)
    mask[:, 0] = True
    loss_fn = LocalAlignmentLoss()

    def timed(fn):
        best, value = float("inf"), None
        for _ in range(repeats):
            r, s = region_emb.clone().requires_grad_(), sentence_emb.clone().requires_grad_()
            synchronize(device)
            start = time.perf_counter()
            value = fn(r, s)
            value.backward()
            synchronize(device)
            best = min(best, time.perf_counter() - start)
        return best, value.item()

    vector_time, vector_loss = timed(lambda r, s: loss_fn(r, s, mask))
    loop_time, reference_loss = timed(lambda r, s: loop_loss(r, s, mask))
    with torch.no_grad():
        score_gap = local_alignment_scores(region_emb, sentence_emb, mask) - loop_scores(region_emb, sentence_emb, mask)
    print(
        f"[local loss] B={batch} R={regions} S={sentences} D={dim}, forward + backward: vectorised "
        f"{vector_time * 1000:.0f} ms, per-report loop {loop_time * 1000:.0f} ms, "
        f"speed-up {loop_time / vector_time:.1f}x; "
        f"max |dZ| {float(score_gap.abs().max()):.2e}, |dloss| {abs(vector_loss - reference_loss):.2e}"
    )


def bench_io(count: int, image_size: int = 224, source_size: int = 1024) -> None:
    """Decode + preprocess speed of JPEG-Baseline DICOMs like RSNA's and SIIM's, cold and from the disk cache."""
    import tempfile

    import numpy as np
    from monai.data import Dataset, PersistentDataset
    from monai.transforms import Compose, LoadImaged, Resized, SpatialPadd

    from msfm.data import RadiographReader, make_dicom, synthesize_case

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
    parser.add_argument("--local-shape", type=int, nargs=4, default=[64, 196, 12, 768], metavar=("B", "R", "S", "D"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--io-images", type=int, default=40, help="DICOMs for the image I/O benchmark (0: skip)")
    args = parser.parse_args()
    device = torch.device(args.device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"device: {device} ({hardware}), torch {torch.__version__}")
    for name in args.configs:
        batch = args.batch_size or (8 if name == "base" and device.type == "cpu" else None)
        bench_training(name, device, args.steps, batch, args.amp)
    bench_local_loss(device, *args.local_shape, repeats=args.repeats)
    if args.io_images:
        bench_io(args.io_images)


if __name__ == "__main__":
    main()
