"""Run the whole downstream suite for a pretrained checkpoint and print the paper's Tables 1-5.

Every number comes from running the bundles themselves (``python -m monai.bundle run ...``) and reading the
``metrics.json`` they write, for the pretrained encoder and, as the reference row, a randomly initialised one:

- Table 1: fine-tuned classification, mean AUC at each label fraction (``bundles/msfm_cls``);
- Table 2: segmentation, per-image Dice at each label fraction (``bundles/msfm_seg``);
  with ``--seeds 0,1,2`` each cell of Tables 1-2 is the mean ± sample standard deviation over fine-tuning seeds;
- Table 3: zero-shot classification AUC; Table 4: phrase grounding mIoU / CNR and retrieval Recall@K
  (``bundles/msfm_zeroshot``);
- Table 5: ablation by objective: pretraining with scales switched off (``bundles/msfm/configs/ablation``),
  each checkpoint scored on zero-shot AUC, grounding mIoU and classification AUC at the smallest fraction (first
  seed only).

Usage (demo data and the demo pretraining, the default):
    python scripts/evaluate_all.py [--checkpoint bundles/msfm/models/model.pt] [--seeds 0,1,2] [--ablations] [--out DIR]

Real data: describe the prepared datasets (``scripts/prepare_data.py`` outputs) in a JSON file, e.g.
    {"classification": {"RSNA": {"datalists": "prepared/rsna", "dataset_dir": "/data/rsna"}},
     "segmentation": {"SIIM": {"datalists": "prepared/siim", "dataset_dir": "/data/siim"}},
     "zero_shot": {"RSNA": {"datalists": "prepared/rsna", "dataset_dir": "/data/rsna"}},
     "grounding": {"MS-CXR": {"datalists": "prepared/mscxr", "dataset_dir": "/data/mimic-cxr-jpg"}},
     "retrieval": {"MIMIC-CXR": {"datalists": "prepared/mimic", "dataset_dir": "/data/mimic-cxr-jpg"}}}
and pass ``--data FILE --scale paper --tokenizer DIR``. Writes ``results.md`` and ``results.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "bundles"
DEMO_TASKS = "data/msfm_demo_tasks"
DEMO_DATA = {
    "classification": {"Demo-5": {"datalists": f"{DEMO_TASKS}/classification", "dataset_dir": DEMO_TASKS}},
    "segmentation": {"Demo-PTX": {"datalists": f"{DEMO_TASKS}/segmentation", "dataset_dir": DEMO_TASKS}},
    "zero_shot": {"Demo-opacity": {"datalists": f"{DEMO_TASKS}/pneumonia", "dataset_dir": DEMO_TASKS}},
    "grounding": {"Demo-phrases": {"datalists": f"{DEMO_TASKS}/grounding", "dataset_dir": DEMO_TASKS}},
    "retrieval": {"Demo-reports": {"datalists": f"{DEMO_TASKS}/retrieval", "dataset_dir": DEMO_TASKS}},
}
ABLATIONS = ("global", "global_local", "global_instance", "global_modality", "all")
RANDOM = "$None"


def configs(bundle: str, main: str, scale: str, *extra: str) -> str:
    files = [BUNDLES / bundle / "configs" / main]
    if scale == "demo":
        files.append(BUNDLES / bundle / "configs" / "demo.json")
    files += [BUNDLES / bundle / "configs" / e for e in extra]
    return "[" + ",".join(f"'{f}'" for f in files) + "]"


def run_bundle(run_id: str, config_files: str, out: Path, overrides: dict, done: Path | None = None) -> Path:
    """Run one bundle command with ``output_dir=out``, logging to ``out/log.txt``, unless ``done`` (default
    ``out/metrics.json``, which the downstream bundles write last) exists from an earlier run; returns ``done``.
    A ``done`` that the bundle does not write itself is created here once the command succeeds."""
    done = done or out / "metrics.json"
    if done.exists():
        return done
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config_files]
    command += [f"--{key}={value}" for key, value in {"output_dir": out, **overrides}.items()]
    start = time.time()
    with open(out / "log.txt", "w") as log:
        log.write(" ".join(map(str, command)) + "\n")
        log.flush()
        result = subprocess.run(command, check=False, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode == 0 and done.suffix == ".done":
        done.touch()
    if result.returncode != 0 or not done.exists():
        raise RuntimeError(f"failed ({result.returncode}): {' '.join(map(str, command))}; see {out / 'log.txt'}")
    print(f"  {out.relative_to(REPO) if out.is_relative_to(REPO) else out}: {time.time() - start:.0f} s", flush=True)
    return done


def read_metrics(path: Path) -> dict:
    return json.loads(path.read_text())


def fine_tune(
    bundle: str, key: str, encoders: dict, data: dict, fractions: list[str], seeds: list[int], args, out: Path
) -> dict:
    """Fine-tune every encoder on every dataset and fraction once per seed; returns
    ``{encoder: {dataset: {fraction: [metric per seed]}}}``. Seed 0 runs in ``<dataset>_<fraction>``, seed k in
    ``<dataset>_<fraction>_seed<k>``."""
    results: dict = {}
    for encoder, (checkpoint, _) in encoders.items():
        for name, spec in data.items():
            for fraction, seed in ((f, s) for f in fractions for s in seeds):
                run_dir = out / bundle / encoder / (f"{name}_{fraction}" + (f"_seed{seed}" if seed else ""))
                metrics = read_metrics(run_bundle(
                    "training",
                    configs(bundle, "train.json", args.scale),
                    run_dir,
                    {
                        "dataset_dir": spec["dataset_dir"],
                        "datalist": Path(spec["datalists"]) / f"datalist_{fraction}.json",
                        "pretrained_checkpoint": checkpoint,
                        "model_dir": run_dir / "models",
                        "seed": seed,
                    },
                ))
                results.setdefault(encoder, {}).setdefault(name, {}).setdefault(fraction, []).append(metrics[key])
    return results


def zero_shot_suite(encoders: dict, data: dict, args, out: Path) -> dict:
    results: dict = {}
    zero_shot, grounding, retrieval = (next(iter(data[k].values())) for k in ("zero_shot", "grounding", "retrieval"))
    for encoder, (checkpoint, tokenizer) in encoders.items():
        results[encoder] = read_metrics(run_bundle(
            "evaluating",
            configs("msfm_zeroshot", "evaluate.json", args.scale),
            out / "msfm_zeroshot" / encoder,
            {
                "dataset_dir": zero_shot["dataset_dir"],
                "datalist": Path(zero_shot["datalists"]) / "datalist.json",
                "grounding_dataset_dir": grounding["dataset_dir"],
                "grounding_datalist": Path(grounding["datalists"]) / "datalist.json",
                "retrieval_dataset_dir": retrieval["dataset_dir"],
                "retrieval_datalist": Path(retrieval["datalists"]) / "datalist.json",
                "pretrained_checkpoint": checkpoint,
                "tokenizer_dir": tokenizer,
            },
        ))
    return results


def pretrain_ablations(args, out: Path) -> dict:
    """Pretrain each objective combination; returns ``{name: (checkpoint, tokenizer_dir)}``."""
    encoders = {}
    for name in ABLATIONS:
        run_dir = out / "ablation_pretraining" / name
        overrides: dict = {"model_dir": run_dir / "models"}
        if args.ablation_epochs:
            overrides["max_epochs"] = args.ablation_epochs
        config_files = configs("msfm", "train.json", args.scale, f"ablation/{name}.json")
        # model.pt appears at the first validation, so completion is marked separately (an interrupted
        # pretraining resumes from its checkpoints on the next call)
        run_bundle("training", config_files, run_dir, overrides, done=run_dir / "pretraining.done")
        encoders[name] = (run_dir / "models" / "model.pt", run_dir / "models" / "tokenizer")
    return encoders


def fmt(value, scale: float = 100.0, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * scale:.{digits}f}"


def fmt_seeds(values: list[float]) -> str:
    """One value as :func:`fmt`; several as ``mean ± sample standard deviation``."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


def markdown_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def tables(results: dict, fractions: list[str], seeds: list[int]) -> str:
    parts = []
    for key, title in (("classification", "Table 1. Fine-tuned classification, mean AUC (%)"),
                       ("segmentation", "Table 2. Segmentation, per-image Dice (%)")):
        if len(seeds) > 1:
            title += f", mean ± sd over seeds {', '.join(map(str, seeds))}"
        block = results[key]
        names = list(next(iter(block.values())))
        header = ["encoder"] + [f"{n} {f} %" for n in names for f in fractions]
        rows = [[enc] + [fmt_seeds(block[enc][n][f]) for n in names for f in fractions] for enc in block]
        parts.append(markdown_table(title, header, rows))
    suite = results["zero_shot"]
    parts.append(markdown_table(
        "Table 3. Zero-shot classification AUC (%)", ["encoder", "AUC"],
        [[enc, fmt(m.get("zero_shot_auc"))] for enc, m in suite.items()]))
    parts.append(markdown_table(
        "Table 4. Phrase grounding (mIoU over thresholds 0.1-0.5, CNR) and retrieval Recall@K (%)",
        ["encoder", "mIoU", "CNR", "i2t R@1", "i2t R@5", "i2t R@10", "t2i R@1", "t2i R@5", "t2i R@10"],
        [[enc, fmt(m.get("grounding_mIoU"), 1, 3), fmt(m.get("grounding_CNR"), 1, 3)]
         + [fmt(m.get(f"retrieval_{d}_R{k}")) for d in ("i2t", "t2i") for k in (1, 5, 10)] for enc, m in suite.items()]))
    if results.get("ablation"):
        smallest = fractions[0]
        parts.append(markdown_table(
            f"Table 5. Ablation by pretraining objective (zero-shot AUC %, grounding mIoU, classification AUC % at {smallest} %)",
            ["objectives", "zero-shot AUC", "grounding mIoU", f"cls AUC {smallest} %"],
            [[name.replace("_", " + "), fmt(m["zero_shot_auc"]), fmt(m["grounding_mIoU"], 1, 3), fmt(m["cls_auc"])]
             for name, m in results["ablation"].items()]))
    return "\n".join(parts)


def seed_list(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``, repeats dropped (argparse turns a ``ValueError`` into a usage error)."""
    return list(dict.fromkeys(int(seed) for seed in text.split(",")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="bundles/msfm/models/model.pt", help="pretraining checkpoint")
    parser.add_argument("--tokenizer", default=None, help="its tokenizer (default: the demo or paper run's)")
    parser.add_argument("--scale", choices=("demo", "paper"), default="demo", help="demo merges each demo.json")
    parser.add_argument("--data", default=None, help="JSON description of prepared datasets (default: demo sets)")
    parser.add_argument("--fractions", default="1,10,100", help="label fractions, as in datalist_<pct>.json")
    parser.add_argument("--no-random-baseline", action="store_true", help="skip the randomly initialised rows")
    parser.add_argument("--ablations", action="store_true", help="pretrain and score the objective ablations")
    parser.add_argument("--ablation-epochs", type=int, default=None, help="pretraining epochs of each ablation")
    parser.add_argument("--seeds", type=seed_list, default=[0], help="fine-tuning seeds of Tables 1-2, comma-separated")
    parser.add_argument("--out", default="evaluation", help="output folder (finished runs are reused)")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        parser.error(f"checkpoint {checkpoint} not found: run the pretraining bundle first")
    tokenizer = args.tokenizer or "bundles/msfm/models/tokenizer"
    data = json.loads(Path(args.data).read_text()) if args.data else DEMO_DATA
    if not args.data:
        from msfm.demo import ensure_demo_task

        ensure_demo_task(DEMO_TASKS, "classification")
    fractions = args.fractions.split(",")
    encoders = {"msfm": (checkpoint, tokenizer)}
    if not args.no_random_baseline:
        encoders["random init"] = (RANDOM, tokenizer)
    start = time.time()
    print("classification", flush=True)
    results = {"classification": fine_tune("msfm_cls", "mean_auc", encoders, data["classification"], fractions, args.seeds, args, out / "main")}
    print("segmentation", flush=True)
    results["segmentation"] = fine_tune("msfm_seg", "dice", encoders, data["segmentation"], fractions, args.seeds, args, out / "main")
    print("zero-shot, grounding, retrieval", flush=True)
    results["zero_shot"] = zero_shot_suite(encoders, data, args, out / "main")
    if args.ablations:
        print("ablations", flush=True)
        ablated = pretrain_ablations(args, out)
        scores = zero_shot_suite(ablated, data, args, out / "ablation")
        cls = fine_tune("msfm_cls", "mean_auc", ablated, dict([next(iter(data["classification"].items()))]),
                        fractions[:1], args.seeds[:1], args, out / "ablation")
        results["ablation"] = {
            name: {"zero_shot_auc": scores[name].get("zero_shot_auc"), "grounding_mIoU": scores[name].get("grounding_mIoU"),
                   "cls_auc": next(iter(cls[name].values()))[fractions[0]][0]}
            for name in ablated
        }
    text = tables(results, fractions, args.seeds)
    print("\n" + text)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"checkpoint": str(checkpoint), "scale": args.scale, "seeds": args.seeds, **results}, indent=2, default=str))
    print(f"wrote {out / 'results.md'} and {out / 'results.json'} in {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
