"""The evaluation grid behind the paper's Tables 1-5: every number is a bundle run (``python -m monai.bundle run``)
whose metrics file is read back, for one or more pretrained checkpoints (pretraining seeds) and, as the reference
row, as many randomly initialised encoders.

- Table 1: fine-tuned classification, mean AUC at each label fraction (``bundles/msfm_cls``), and beside it the
  frozen-feature linear probe (``probe.json``);
- Table 2: segmentation, per-image Dice at each label fraction (``bundles/msfm_seg``);
- Table 3: zero-shot classification AUC; Table 4: phrase grounding mIoU / CNR / signed CNR / phrase sensitivity and
  retrieval Recall@K and finding-aware precision@5 (``bundles/msfm_zeroshot``);
- Table 5: ablation by objective: pretraining with scales switched off (``bundles/msfm/configs/ablation.json``),
  once per pretraining seed, each checkpoint scored on zero-shot AUC, grounding mIoU and classification AUC at the
  smallest fraction (first fine-tuning seed).

With several pretrained checkpoints or fine-tuning seeds, a cell is the mean ± sample standard deviation over all
of them. Replicate ``k`` (the k-th checkpoint, or the k-th random initialisation) runs with seed ``k`` in the
zero-shot bundle and ``s + 100 k`` for fine-tuning seed ``s``, so random-init replicates differ too.

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
    "TASKS",
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
TASKS = ("classification", "probe", "segmentation", "zero_shot")
REPLICATE_SEED_STRIDE = 100
# the fine-tuned tasks of Tables 1-2: bundle, metric, dataset table of `data`, output subfolder, run options
FINE_TUNING = {
    "classification": ("msfm_cls", CLASSIFICATION_METRIC, "classification", "main", {}),
    "probe": ("msfm_cls", "probe_mean_auc", "classification", "probe",
              {"run_id": "probing", "extra": ("probe.json",), "done_name": "probe_metrics.json"}),
    "segmentation": ("msfm_seg", SEGMENTATION_METRIC, "segmentation", "main", {}),
}


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
        pretrained: ``(checkpoint, tokenizer directory)`` of each pretraining seed.
        data: the prepared datasets (see :func:`demo_datasets` for the format).
        out: output folder.
        scale: ``"demo"`` merges each bundle's ``demo.json``.
        fractions: label fractions, as in ``datalist_<pct>.json``.
        seeds: fine-tuning seeds of Tables 1-2.
        tasks: the parts of the grid to run (:data:`TASKS`).
        random_baseline: also score randomly initialised encoders, one per pretraining seed.
        ablations: pretrain and score the objective ablations.
        ablation_epochs: pretraining epochs of each ablation (None: the config's).
    """

    repo_root: Path
    pretrained: Sequence[tuple[Path, Path]]
    data: Mapping
    out: Path
    scale: str = "demo"
    fractions: Sequence[str] = ("1", "10", "100")
    seeds: Sequence[int] = (0,)
    tasks: Sequence[str] = TASKS
    random_baseline: bool = True
    ablations: bool = False
    ablation_epochs: int | None = None
    encoders: dict = field(init=False)

    def __post_init__(self) -> None:
        self.encoders = {"msfm": [(Path(c), Path(t)) for c, t in self.pretrained]}
        if self.random_baseline:
            self.encoders["random init"] = [(RANDOM_INIT, Path(t)) for _, t in self.pretrained]

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


def fine_tune(
    settings: SuiteSettings, bundle: str, key: str, encoders: dict, data: Mapping, fractions, seeds, out,
    run_id: str = "training", extra: Sequence[str] = (), done_name: str = "metrics.json",
) -> dict:
    """Fine-tune (or, with ``run_id``/``extra``/``done_name``, probe) every replicate of every encoder on every
    dataset and fraction once per seed; returns ``{encoder: {dataset: {fraction: [metric per replicate and
    seed]}}}``. A run with seed ``s`` (see the module notes) is in ``<dataset>_<fraction>``, or
    ``<dataset>_<fraction>_seed<s>`` when ``s`` is not 0."""
    results: dict = {}
    config_files = settings.configs(bundle, "train.json", *extra)
    for encoder, replicates in encoders.items():
        for k, (checkpoint, _) in enumerate(replicates):
            for name, spec in data.items():
                for fraction, seed in ((f, s + REPLICATE_SEED_STRIDE * k) for f in fractions for s in seeds):
                    run_dir = out / bundle / encoder / (f"{name}_{fraction}" + (f"_seed{seed}" if seed else ""))
                    overrides = {
                        "dataset_dir": spec["dataset_dir"],
                        "datalist": Path(spec["datalists"]) / f"datalist_{fraction}.json",
                        "pretrained_checkpoint": checkpoint,
                        "model_dir": run_dir / "models",
                        "seed": seed,
                    }
                    done = run_bundle(settings, bundle, run_id, config_files, run_dir, overrides, run_dir / done_name)
                    results.setdefault(encoder, {}).setdefault(name, {}).setdefault(fraction, []).append(_metrics(done)[key])
    return results


def zero_shot_suite(settings: SuiteSettings, encoders: dict, out: Path) -> dict:
    """The zero-shot bundle's metrics for every replicate of every encoder: ``{encoder: [metrics per replicate]}``;
    replicate ``k`` runs in ``msfm_zeroshot/<encoder>``, or ``<encoder>_<k>`` when ``k`` is not 0."""
    zero_shot, grounding, retrieval = (next(iter(settings.data[k].values())) for k in ("zero_shot", "grounding", "retrieval"))
    # the zero-shot bundle takes its network from the pretraining configs
    config_files = settings.configs("msfm_zeroshot", "evaluate.json", layered_on=("msfm", "train.json"))
    results: dict = {}
    for encoder, k, (checkpoint, tokenizer) in ((e, k, r) for e, rs in encoders.items() for k, r in enumerate(rs)):
        overrides = {
            "dataset_dir": zero_shot["dataset_dir"],
            "datalist": Path(zero_shot["datalists"]) / "datalist.json",
            "grounding_dataset_dir": grounding["dataset_dir"],
            "grounding_datalist": Path(grounding["datalists"]) / "datalist.json",
            "retrieval_dataset_dir": retrieval["dataset_dir"],
            "retrieval_datalist": Path(retrieval["datalists"]) / "datalist.json",
            "pretrained_checkpoint": checkpoint,
            "tokenizer_dir": tokenizer,
            "seed": k,
        }
        run_dir = out / "msfm_zeroshot" / (f"{encoder}_{k}" if k else encoder)
        results.setdefault(encoder, []).append(_metrics(run_bundle(settings, "msfm_zeroshot", "evaluating", config_files, run_dir, overrides)))
    return results


def pretrain_ablations(settings: SuiteSettings, out: Path) -> dict:
    """Pretrain each objective combination with seeds 0 … n-1, one per pretrained checkpoint; returns
    ``{name: [(checkpoint, tokenizer_dir) per seed]}``."""
    encoders: dict = {}
    config_files = settings.configs("msfm", "train.json", "ablation.json")
    for name, seed in ((n, s) for n in ABLATIONS for s in range(len(settings.pretrained))):
        run_dir = out / "ablation_pretraining" / (f"{name}_seed{seed}" if seed else name)
        overrides: dict = {"ablation": name, "model_dir": run_dir / "models", "seed": seed}
        if settings.ablation_epochs:
            overrides["max_epochs"] = settings.ablation_epochs
        # model.pt appears at the first validation, so completion is marked separately (an interrupted
        # pretraining resumes from its checkpoints on the next call)
        run_bundle(settings, "msfm", "training", config_files, run_dir, overrides, done=run_dir / "pretraining.done")
        encoders.setdefault(name, []).append((run_dir / "models" / "model.pt", run_dir / "models" / "tokenizer"))
    return encoders


def run_suite(settings: SuiteSettings) -> dict:
    """Every run of the grid; returns the results (the schema of ``results.json``) and writes ``results.md`` and
    ``results.json`` in ``settings.out``."""
    out, fractions, seeds, tasks = settings.out, list(settings.fractions), list(settings.seeds), settings.tasks
    start = time.time()
    results: dict = {}
    for task, (bundle, metric, dataset, folder, how) in FINE_TUNING.items():
        if task in tasks:
            print(task, flush=True)
            task_seeds = seeds[:1] if task == "probe" else seeds  # the probe's fit is deterministic
            results[task] = fine_tune(settings, bundle, metric, settings.encoders, settings.data[dataset],
                                      fractions, task_seeds, out / folder, **how)
    if "zero_shot" in tasks:
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
                "zero_shot_auc": [m.get("zero_shot_auc") for m in scores[name]],
                "grounding_mIoU": [m.get("grounding_mIoU") for m in scores[name]],
                "cls_auc": next(iter(cls[name].values()))[fractions[0]],
            }
            for name in ablated
        }
    text = results_tables(results, fractions, seeds, len(settings.pretrained))
    print("\n" + text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    summary = {"pretrained": [list(map(str, p)) for p in settings.pretrained], "scale": settings.scale, "seeds": seeds, **results}
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {out / 'results.md'} and {out / 'results.json'} in {(time.time() - start) / 60:.1f} min")
    return results


def fmt(value, scale: float = 100.0, digits: int = 1) -> str:
    """A metric for a table: scaled, rounded; ``–`` when missing or NaN."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * scale:.{digits}f}"


def fmt_seeds(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """One value as :func:`fmt`; several as ``mean ± sample standard deviation``; ``–`` if any is missing."""
    if len(values) == 1 or any(v is None or math.isnan(v) for v in values):
        return fmt(values[0] if len(values) == 1 else None, scale, digits)
    return f"{fmt(statistics.mean(values), scale, digits)} ± {fmt(statistics.stdev(values), scale, digits)}"


def _markdown_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def results_tables(results: dict, fractions: list[str], seeds: list[int], n_pretrained: int = 1) -> str:
    """Tables 1-5 in Markdown, for the parts of the grid that ``results`` holds."""
    spread = f", mean ± sd over {n_pretrained} pretraining seeds" if n_pretrained > 1 else ""
    parts = []
    for key, title, n_seeds in (
        ("classification", "Table 1. Fine-tuned classification, mean AUC (%)", len(seeds)),
        ("probe", "Table 1b. Frozen-feature linear probe, mean AUC (%)", 1),
        ("segmentation", "Table 2. Segmentation, per-image Dice (%)", len(seeds)),
    ):
        if key not in results:
            continue
        if n_seeds > 1:
            title += f", mean ± sd over seeds {', '.join(map(str, seeds))}"
            title += f" × {n_pretrained} pretraining seeds" if n_pretrained > 1 else ""
        else:
            title += spread
        block = results[key]
        names = list(next(iter(block.values())))
        header = ["encoder"] + [f"{n} {f} %" for n in names for f in fractions]
        rows = [[enc] + [fmt_seeds(block[enc][n][f]) for n in names for f in fractions] for enc in block]
        parts.append(_markdown_table(title, header, rows))
    suite = results.get("zero_shot")
    if suite:
        def cell(runs: list[dict], key: str, scale: float = 100.0, digits: int = 1) -> str:
            return fmt_seeds([m.get(key) for m in runs], scale, digits)

        parts.append(_markdown_table(
            f"Table 3. Zero-shot classification AUC (%){spread}", ["encoder", "AUC"],
            [[enc, cell(runs, "zero_shot_auc")] for enc, runs in suite.items()]))
        recall = [(d, k) for d in ("i2t", "t2i") for k in RETRIEVAL_KS]
        parts.append(_markdown_table(
            "Table 4. Phrase grounding (mIoU over thresholds 0.1-0.5, CNR, signed CNR: below 0 = coldest on the box, "
            "phrase sensitivity: 1 = the map ignores the phrase), retrieval Recall@K and finding-aware precision@5 "
            f"(%){spread}",
            ["encoder", "mIoU", "CNR", "signed CNR", "phrase sensitivity"] + [f"{d} R@{k}" for d, k in recall]
            + [f"{d} P@5" for d in ("i2t", "t2i", "mean")],
            [[enc] + [cell(runs, f"grounding_{m}", 1, 3) for m in ("mIoU", "CNR", "signed_CNR", "phrase_sensitivity")]
             + [cell(runs, f"retrieval_{d}_R{k}") for d, k in recall]
             + [cell(runs, f"retrieval_{d}_P5") for d in ("i2t", "t2i", "mean")] for enc, runs in suite.items()]))
    if results.get("ablation"):
        smallest = fractions[0]
        parts.append(_markdown_table(
            f"Table 5. Ablation by pretraining objective (zero-shot AUC %, grounding mIoU, classification AUC % at "
            f"{smallest} %){spread}",
            ["objectives", "zero-shot AUC", "grounding mIoU", f"cls AUC {smallest} %"],
            [[name.replace("_", " + "), fmt_seeds(m["zero_shot_auc"]), fmt_seeds(m["grounding_mIoU"], 1, 3),
              fmt_seeds(m["cls_auc"])] for name, m in results["ablation"].items()]))
    return "\n".join(parts)
