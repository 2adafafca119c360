"""The evaluation grid behind the paper's Tables 1-5: every number is a bundle run (``python -m monai.bundle run``)
whose ``metrics.json`` is read back, for a pretrained encoder and, as the reference row, a randomly initialised one.

- Table 1: fine-tuned classification, mean AUC at each label fraction (``bundles/msfm_cls``);
- Table 2: segmentation, per-image Dice at each label fraction (``bundles/msfm_seg``); with several seeds each
  cell is the mean ± sample standard deviation over fine-tuning seeds;
- Table 3: zero-shot classification AUC; Table 4: phrase grounding mIoU / CNR and retrieval Recall@K
  (``bundles/msfm_zeroshot``);
- Table 5: ablation by objective: pretraining with scales switched off (``bundles/msfm/configs/ablation.json``),
  each checkpoint scored on zero-shot AUC, grounding mIoU and classification AUC at the smallest fraction (first
  seed only).

Finished runs are reused, so an interrupted evaluation continues where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ABLATIONS",
    "RANDOM_INIT",
    "SuiteSettings",
    "demo_datasets",
    "fmt",
    "fmt_seeds",
    "results_tables",
    "run_suite",
]

ABLATIONS = ("global", "global_local", "global_instance", "global_modality", "all")
# the config value that leaves a network's encoder randomly initialised (`None` once MONAI evaluates it)
RANDOM_INIT = "$None"
# bundles whose network is defined in their inference.json, which every one of their workflows layers first
NETWORK_IN_INFERENCE = ("msfm_cls", "msfm_seg")
# the metric of each table, as the bundles name it in metrics.json
CLASSIFICATION_METRIC, SEGMENTATION_METRIC = "mean_auc", "dice"
RETRIEVAL_KS = (1, 5, 10)


def demo_datasets(tasks_dir: str | os.PathLike = "data/msfm_demo_tasks") -> dict:
    """The demo task sets in the ``--data`` format: ``{table: {dataset: {"datalists", "dataset_dir"}}}``."""
    tasks_dir = os.fspath(tasks_dir)
    folders = {
        "classification": ("Demo-5", "classification"),
        "segmentation": ("Demo-PTX", "segmentation"),
        "zero_shot": ("Demo-opacity", "pneumonia"),
        "grounding": ("Demo-phrases", "grounding"),
        "retrieval": ("Demo-reports", "retrieval"),
    }
    return {
        table: {name: {"datalists": f"{tasks_dir}/{folder}", "dataset_dir": tasks_dir}}
        for table, (name, folder) in folders.items()
    }


@dataclass
class SuiteSettings:
    """What to evaluate and how.

    Args:
        repo_root: the msfm checkout (bundle commands run there).
        checkpoint: the pretraining checkpoint.
        tokenizer: its tokenizer directory.
        data: the prepared datasets (see :func:`demo_datasets` for the format).
        out: output folder.
        scale: ``"demo"`` merges each bundle's ``demo.json``.
        fractions: label fractions, as in ``datalist_<pct>.json``.
        seeds: fine-tuning seeds of Tables 1-2.
        random_baseline: also score a randomly initialised encoder.
        ablations: pretrain and score the objective ablations.
        ablation_epochs: pretraining epochs of each ablation (None: the config's).
    """

    repo_root: Path
    checkpoint: Path
    tokenizer: Path
    data: Mapping
    out: Path
    scale: str = "demo"
    fractions: Sequence[str] = ("1", "10", "100")
    seeds: Sequence[int] = (0,)
    random_baseline: bool = True
    ablations: bool = False
    ablation_epochs: int | None = None
    encoders: dict = field(init=False)

    def __post_init__(self) -> None:
        self.encoders = {"msfm": (self.checkpoint, self.tokenizer)}
        if self.random_baseline:
            self.encoders["random init"] = (RANDOM_INIT, self.tokenizer)

    def configs(self, bundle: str, main: str, *extra: str, layered_on: tuple[str, str] | None = None) -> str:
        """A ``--config_file`` list: the common ``workflow.json``; another bundle's ``(bundle, main)`` pair (and
        its ``demo.json``) when ``layered_on`` is given; the bundle's ``inference.json`` where the network is
        defined there (the downstream bundles); ``main``; at demo scale the downstream demo settings
        (``common/configs/downstream_demo.json``, downstream bundles only) and the bundle's ``demo.json``; then ``extra``."""
        bundles = Path(self.repo_root) / "bundles"
        files = [bundles / "common" / "configs" / "workflow.json"]
        for name, config in ([layered_on] if layered_on else []) + [(bundle, main)]:
            folder, downstream = bundles / name / "configs", name in NETWORK_IN_INFERENCE
            files += [folder / "inference.json"] if downstream else []
            files += [folder / config]
            if self.scale == "demo":
                files += ([bundles / "common" / "configs" / "downstream_demo.json"] if downstream else []) + [folder / "demo.json"]
        files += [bundles / bundle / "configs" / e for e in extra]
        return "[" + ",".join(f"'{f}'" for f in files) + "]"


def run_bundle(
    settings: SuiteSettings, bundle: str, run_id: str, config_files: str, out: Path, overrides: dict, done=None
) -> Path:
    """Run one bundle command with ``output_dir=out``, logging to ``out/log.txt``, unless ``done`` (default
    ``out/metrics.json``, which the downstream bundles write last) exists from an earlier run; returns ``done``.
    A ``done`` that the bundle does not write itself is created here once the command succeeds."""
    done = done or out / "metrics.json"
    if done.exists():
        return done
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(settings.repo_root) / "bundles" / bundle / "configs"
    command = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config_files]
    command += ["--meta_file", str(folder / "metadata.json"), "--logging_file", str(folder / "logging.conf")]
    command += [f"--{key}={value}" for key, value in {"output_dir": out, **overrides}.items()]
    start = time.time()
    with open(out / "log.txt", "w") as log:
        log.write(" ".join(map(str, command)) + "\n")
        log.flush()
        result = subprocess.run(command, check=False, cwd=settings.repo_root, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode == 0 and done.suffix == ".done":
        done.touch()
    if result.returncode != 0 or not done.exists():
        raise RuntimeError(f"failed ({result.returncode}): {' '.join(map(str, command))}; see {out / 'log.txt'}")
    print(f"  {out}: {time.time() - start:.0f} s", flush=True)
    return done


def _metrics(path: Path) -> dict:
    return json.loads(path.read_text())


def fine_tune(settings: SuiteSettings, bundle: str, key: str, encoders: dict, data: Mapping, fractions, seeds, out) -> dict:
    """Fine-tune every encoder on every dataset and fraction once per seed; returns
    ``{encoder: {dataset: {fraction: [metric per seed]}}}``. Seed 0 runs in ``<dataset>_<fraction>``, seed k in
    ``<dataset>_<fraction>_seed<k>``."""
    results: dict = {}
    for encoder, (checkpoint, _) in encoders.items():
        for name, spec in data.items():
            for fraction, seed in ((f, s) for f in fractions for s in seeds):
                run_dir = out / bundle / encoder / (f"{name}_{fraction}" + (f"_seed{seed}" if seed else ""))
                overrides = {
                    "dataset_dir": spec["dataset_dir"],
                    "datalist": Path(spec["datalists"]) / f"datalist_{fraction}.json",
                    "pretrained_checkpoint": checkpoint,
                    "model_dir": run_dir / "models",
                    "seed": seed,
                }
                done = run_bundle(settings, bundle, "training", settings.configs(bundle, "train.json"), run_dir, overrides)
                results.setdefault(encoder, {}).setdefault(name, {}).setdefault(fraction, []).append(_metrics(done)[key])
    return results


def zero_shot_suite(settings: SuiteSettings, encoders: dict, out: Path) -> dict:
    """The zero-shot bundle's metrics for every encoder."""
    zero_shot, grounding, retrieval = (next(iter(settings.data[k].values())) for k in ("zero_shot", "grounding", "retrieval"))
    results = {}
    for encoder, (checkpoint, tokenizer) in encoders.items():
        overrides = {
            "dataset_dir": zero_shot["dataset_dir"],
            "datalist": Path(zero_shot["datalists"]) / "datalist.json",
            "grounding_dataset_dir": grounding["dataset_dir"],
            "grounding_datalist": Path(grounding["datalists"]) / "datalist.json",
            "retrieval_dataset_dir": retrieval["dataset_dir"],
            "retrieval_datalist": Path(retrieval["datalists"]) / "datalist.json",
            "pretrained_checkpoint": checkpoint,
            "tokenizer_dir": tokenizer,
        }
        # the zero-shot bundle takes its network from the pretraining configs
        config_files = settings.configs("msfm_zeroshot", "evaluate.json", layered_on=("msfm", "train.json"))
        results[encoder] = _metrics(run_bundle(settings, "msfm_zeroshot", "evaluating", config_files, out / "msfm_zeroshot" / encoder, overrides))
    return results


def pretrain_ablations(settings: SuiteSettings, out: Path) -> dict:
    """Pretrain each objective combination; returns ``{name: (checkpoint, tokenizer_dir)}``."""
    encoders = {}
    for name in ABLATIONS:
        run_dir = out / "ablation_pretraining" / name
        overrides: dict = {"ablation": name, "model_dir": run_dir / "models"}
        if settings.ablation_epochs:
            overrides["max_epochs"] = settings.ablation_epochs
        config_files = settings.configs("msfm", "train.json", "ablation.json")
        # model.pt appears at the first validation, so completion is marked separately (an interrupted
        # pretraining resumes from its checkpoints on the next call)
        run_bundle(settings, "msfm", "training", config_files, run_dir, overrides, done=run_dir / "pretraining.done")
        encoders[name] = (run_dir / "models" / "model.pt", run_dir / "models" / "tokenizer")
    return encoders


def run_suite(settings: SuiteSettings) -> dict:
    """Every run of the grid; returns the results (the schema of ``results.json``) and writes ``results.md`` and
    ``results.json`` in ``settings.out``."""
    out, fractions, seeds = settings.out, list(settings.fractions), list(settings.seeds)
    start = time.time()
    print("classification", flush=True)
    results = {
        "classification": fine_tune(
            settings, "msfm_cls", CLASSIFICATION_METRIC, settings.encoders, settings.data["classification"],
            fractions, seeds, out / "main",
        )
    }
    print("segmentation", flush=True)
    results["segmentation"] = fine_tune(
        settings, "msfm_seg", SEGMENTATION_METRIC, settings.encoders, settings.data["segmentation"],
        fractions, seeds, out / "main",
    )
    print("zero-shot, grounding, retrieval", flush=True)
    results["zero_shot"] = zero_shot_suite(settings, settings.encoders, out / "main")
    if settings.ablations:
        print("ablations", flush=True)
        ablated = pretrain_ablations(settings, out)
        scores = zero_shot_suite(settings, ablated, out / "ablation")
        first_dataset = dict([next(iter(settings.data["classification"].items()))])
        cls = fine_tune(
            settings, "msfm_cls", CLASSIFICATION_METRIC, ablated, first_dataset, fractions[:1], seeds[:1], out / "ablation"
        )
        results["ablation"] = {
            name: {
                "zero_shot_auc": scores[name].get("zero_shot_auc"),
                "grounding_mIoU": scores[name].get("grounding_mIoU"),
                "cls_auc": next(iter(cls[name].values()))[fractions[0]][0],
            }
            for name in ablated
        }
    text = results_tables(results, fractions, seeds)
    print("\n" + text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    summary = {"checkpoint": str(settings.checkpoint), "scale": settings.scale, "seeds": seeds, **results}
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {out / 'results.md'} and {out / 'results.json'} in {(time.time() - start) / 60:.1f} min")
    return results


def fmt(value, scale: float = 100.0, digits: int = 1) -> str:
    """A metric for a table: scaled, rounded; ``–`` when missing or NaN."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * scale:.{digits}f}"


def fmt_seeds(values: list[float]) -> str:
    """One value as :func:`fmt`; several as ``mean ± sample standard deviation``."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


def _markdown_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def results_tables(results: dict, fractions: list[str], seeds: list[int]) -> str:
    """Tables 1-5 in Markdown."""
    parts = []
    for key, title in (("classification", "Table 1. Fine-tuned classification, mean AUC (%)"),
                       ("segmentation", "Table 2. Segmentation, per-image Dice (%)")):
        if len(seeds) > 1:
            title += f", mean ± sd over seeds {', '.join(map(str, seeds))}"
        block = results[key]
        names = list(next(iter(block.values())))
        header = ["encoder"] + [f"{n} {f} %" for n in names for f in fractions]
        rows = [[enc] + [fmt_seeds(block[enc][n][f]) for n in names for f in fractions] for enc in block]
        parts.append(_markdown_table(title, header, rows))
    suite = results["zero_shot"]
    parts.append(_markdown_table(
        "Table 3. Zero-shot classification AUC (%)", ["encoder", "AUC"],
        [[enc, fmt(m.get("zero_shot_auc"))] for enc, m in suite.items()]))
    recall = [(d, k) for d in ("i2t", "t2i") for k in RETRIEVAL_KS]
    parts.append(_markdown_table(
        "Table 4. Phrase grounding (mIoU over thresholds 0.1-0.5, CNR) and retrieval Recall@K (%)",
        ["encoder", "mIoU", "CNR"] + [f"{d} R@{k}" for d, k in recall],
        [[enc, fmt(m.get("grounding_mIoU"), 1, 3), fmt(m.get("grounding_CNR"), 1, 3)]
         + [fmt(m.get(f"retrieval_{d}_R{k}")) for d, k in recall] for enc, m in suite.items()]))
    if results.get("ablation"):
        smallest = fractions[0]
        parts.append(_markdown_table(
            f"Table 5. Ablation by pretraining objective (zero-shot AUC %, grounding mIoU, classification AUC % at {smallest} %)",
            ["objectives", "zero-shot AUC", "grounding mIoU", f"cls AUC {smallest} %"],
            [[name.replace("_", " + "), fmt(m["zero_shot_auc"]), fmt(m["grounding_mIoU"], 1, 3), fmt(m["cls_auc"])]
             for name, m in results["ablation"].items()]))
    return "\n".join(parts)
