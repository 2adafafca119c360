"""Measure msfm's speed against the machine's own limits (not a test: it prints measured figures).

It prints, in one run:
  * the device's matmul peak in bf16 and fp32 (square matmuls, measured here);
  * for each network (tiny = the demo's, base = ViT-B/16 + BERT-base at 224 px) in fp32 and under bf16 autocast:
    training pairs/s (forward + backward + AdamW step of all four loss terms), achieved FLOP/s, their share of the
    measured peak of that precision (MFU on CUDA), and peak memory; then the bf16/fp32 speed ratio;
  * with --downstream, a training step of the classification and segmentation demo networks in both precisions;
  * the loader's images/s per process through the pretraining image chain (load, letterbox, random affine,
    normalise) at 224 px, from full-size JPEG-Baseline DICOMs (cold) and from the pre-resized PNG copy that
    scripts/resize_dataset.py writes, with 1 and N worker processes.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` over one training step, forward and backward:
matrix multiplications, convolutions and attention; element-wise operations are not counted, so the achieved
FLOP/s is a lower bound.

Usage:
    python scripts/benchmark.py                                   # everything, on CPU or the first GPU
    python scripts/benchmark.py --configs tiny --steps 20
    python scripts/benchmark.py --device cuda --configs base --compile --loader-images 0   # the GPU one-shot
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from torch.utils.flop_counter import FlopCounterMode

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
WORKFLOW = BUNDLES / "common" / "configs" / "workflow.json"
CONFIGS = BUNDLES / "msfm" / "configs"
SETTINGS = {
    "tiny": {"files": ["train.json", "demo.json"], "vocab_size": 600},
    "base": {"files": ["train.json"], "vocab_size": 30522},
}


def pretraining_parser(name: str, device: torch.device) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(WORKFLOW), *(str(CONFIGS / f) for f in SETTINGS[name]["files"])])
    parser.update(
        {
            "text_encoder#tokenizer": None,  # no data: the vocabulary size and special ids are given instead
            "text_encoder#vocab_size": SETTINGS[name]["vocab_size"],
            "text_encoder#mask_token_id": 4,
            "text_encoder#pad_token_id": 0,
            "device": device,
        }
    )
    return parser


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device: torch.device, repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    function()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """FLOP/s of square matmuls in ``dtype`` (TF32 off: fp32 means fp32)."""
    size = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    torch.backends.cuda.matmul.allow_tf32 = False
    seconds = timed(lambda: a @ b, device, repeats=20 if device.type == "cuda" else 5)
    return 2 * size**3 / seconds


def synthetic_batch(parser: ConfigParser, batch: int, vocab: int, device: torch.device):
    image_size, length, sentences = (
        parser.get_parsed_content(k) for k in ("image_size", "max_length", "max_sentences")
    )
    ids = torch.randint(5, vocab, (batch, length), device=device)
    ids[:, 0], ids[:, -1] = 2, 3
    per_sentence = (length - 2) // sentences
    owner = torch.full((batch, length), -1, device=device)
    owner[:, 1 : 1 + per_sentence * sentences] = torch.arange(sentences, device=device).repeat_interleave(per_sentence)
    images = torch.randn(batch, 1, image_size, image_size, device=device)
    return images, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "sentence_index": owner}


def peak_memory_mib(device: torch.device) -> str:
    if device.type == "cuda":
        return f"peak memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
    return f"process peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"


def bench_training(
    name: str, device: torch.device, steps: int, batch: int | None, amp: bool, compile: bool, peak: float
):
    """One network in one precision: prints and returns pairs/s."""
    parser = pretraining_parser(name, device)
    network, loss_fn = parser.get_parsed_content("network"), parser.get_parsed_content("loss")
    optimizer = parser.get_parsed_content("optimizer")
    batch = batch or parser.get_parsed_content("batch_size")
    images, text = synthetic_batch(parser, batch, network.text_encoder.vocab_size, device)
    network.train()
    forward = torch.compile(network) if compile else network
    needs = {"reconstruction": loss_fn.needs_reconstruction, "matching": loss_fn.needs_matching}

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(forward(images, **text, **needs))["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = timed(step, device, steps)
    achieved = flops / seconds
    share = "MFU" if device.type == "cuda" else "of the measured peak"
    print(
        f"[{name}] {sum(p.numel() for p in network.parameters()) / 1e6:.1f} M params, "
        f"{parser.get_parsed_content('image_size')} px, batch {batch}, {'bf16 autocast' if amp else 'fp32'}"
        f"{', compiled' if compile else ''}: {batch / seconds:.1f} pairs/s ({seconds * 1000:.0f} ms/step), "
        f"{flops / batch / 1e9:.2f} GFLOP/pair, {achieved / 1e9:.0f} GFLOP/s = {100 * achieved / peak:.1f} % {share}, "
        f"{peak_memory_mib(device)}"
    )
    return batch / seconds


def bench_downstream(bundle: str, device: torch.device, steps: int) -> None:
    """A training step (network, loss and inferer of the bundle's demo configs) in fp32 and bf16 autocast."""
    files = [WORKFLOW, BUNDLES / bundle / "configs" / "inference.json", BUNDLES / bundle / "configs" / "train.json"]
    files += [BUNDLES / "common" / "configs" / "downstream_demo.json", BUNDLES / bundle / "configs" / "demo.json"]
    seconds = {}
    for amp in (False, True):
        parser = ConfigParser()
        parser.read_config([str(f) for f in files])
        parser.update({"amp": amp, "class_names": ["a", "b", "c", "d", "e"], "pretrained_checkpoint": None})
        parser.update({"device": device})
        network, inferer, loss_fn = (parser.get_parsed_content(k) for k in ("network_def", "inferer", "loss"))
        network = network.to(device).train()
        optimizer = torch.optim.AdamW(network.parameters(), 1e-4)
        batch, size = parser.get_parsed_content("batch_size"), parser.get_parsed_content("image_size")
        images = torch.randn(batch, 1, size, size, device=device)
        shape = (batch, 5) if bundle == "msfm_cls" else (batch, 1, size, size)
        targets = (torch.rand(shape, device=device) > 0.5).float()

        def step():
            loss = loss_fn(inferer(images, network), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        seconds[amp] = timed(step, device, steps)
    print(
        f"[{bundle} demo] batch {batch}, {size} px: {seconds[False] * 1000:.0f} ms/step fp32, "
        f"{seconds[True] * 1000:.0f} ms/step bf16 autocast ({seconds[False] / seconds[True]:.2f}x)"
    )


def loader_chain():
    """The pretraining image chain at paper scale: load, letterbox to 224 px, random affine, normalise."""
    from monai.transforms import Compose

    parser = pretraining_parser("base", torch.device("cpu"))
    parser.update({"image_keys": ["image"], "interpolation": "bilinear", "resize_mode": "area"})
    transforms = parser.get_parsed_content("load_transforms") + parser.get_parsed_content("augmentation")
    return Compose([*transforms, parser.get_parsed_content("normalize")])


def bench_loader(count: int, workers: int, source_size: int = 1024, cache_size: int = 256) -> None:
    """Images/s per process through :func:`loader_chain`, from full-size DICOMs and from the resized copy."""
    import json

    import numpy as np
    from monai.data import DataLoader, Dataset

    from msfm.data import make_dicom, write_resized_dataset
    from msfm.demo import synthesize_case

    chain, rng = loader_chain(), np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root, entries = Path(tmp) / "dicom", []
        root.mkdir()
        for index in range(count):
            pixels = (synthesize_case(rng, source_size)[0] * 255).astype(np.uint8)
            make_dicom(pixels, jpeg=True).save_as(root / f"{index}.dcm", enforce_file_format=True)
            entries.append({"image": f"{index}.dcm"})
        (root / "datalist.json").write_text(json.dumps({"training": entries}))
        write_resized_dataset([root / "datalist.json"], root, Path(tmp) / "resized", size=cache_size, workers=workers)
        sources = {
            f"full-size {source_size}^2 JPEG DICOMs (cold)": root,
            f"resized copy ({cache_size} px PNG)": Path(tmp) / "resized",
        }
        for label, folder in sources.items():
            data = [
                {"image": str(folder / (e["image"] if folder == root else Path(e["image"]).with_suffix(".png")))}
                for e in entries
            ]
            for processes in sorted({1, workers}):
                loader = DataLoader(Dataset(data, chain), batch_size=16, num_workers=0 if processes == 1 else processes)
                start = time.perf_counter()
                for _ in loader:
                    pass
                rate = count / (time.perf_counter() - start)
                print(
                    f"[loader] {label}, {processes} process(es): {rate:.0f} images/s, {rate / processes:.0f} per process"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=list(SETTINGS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per network and precision")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's (base: 8 on CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--downstream", action="store_true", help="also the downstream demo networks' steps")
    parser.add_argument("--loader-images", type=int, default=64, help="DICOMs for the loader benchmark (0: skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="loader processes besides 1")
    args = parser.parse_args()
    device = torch.device(args.device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"device: {device} ({hardware}), torch {torch.__version__}")
    peaks = {name: matmul_peak(device, dtype) for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"matmul peak: bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s, fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s")
    for name in args.configs:
        batch = args.batch_size or (8 if name == "base" and device.type == "cpu" else None)
        rates = {
            p: bench_training(name, device, args.steps, batch, p == "bf16", args.compile, peaks[p])
            for p in args.precisions
        }
        if len(rates) == 2:
            print(f"[{name}] bf16/fp32 training speed: {rates['bf16'] / rates['fp32']:.2f}x")
    if args.downstream:
        for bundle in ("msfm_cls", "msfm_seg"):
            bench_downstream(bundle, device, args.steps)
    if args.loader_images:
        bench_loader(args.loader_images, args.workers)


if __name__ == "__main__":
    main()
