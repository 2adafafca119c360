"""Run the whole downstream suite for one or more pretrained checkpoints (pretraining seeds) and print the paper's
Tables 1-5, with mean ± sd over the checkpoints (the grid, the bundle runs and the tables: :mod:`msfm.evaluation.suite`).

Usage (demo data and the demo pretraining, the default):
    python scripts/evaluate_all.py [--checkpoint bundles/msfm/models/model.pt ...] [--seeds 0,1,2] [--ablations] [--out DIR]

Each checkpoint's tokenizer is the ``tokenizer`` folder beside it (where the pretraining bundle saves both), unless
``--tokenizer`` names one folder for all or one per checkpoint. ``--tasks`` runs part of the grid.

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
import sys
from pathlib import Path

from msfm.evaluation.suite import TASKS, SuiteSettings, demo_datasets, run_suite

REPO = Path(__file__).resolve().parents[1]
DEMO_TASKS = "data/msfm_demo_tasks"


def seed_list(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``, repeats dropped (argparse turns a ``ValueError`` into a usage error)."""
    return list(dict.fromkeys(int(seed) for seed in text.split(",")))


def task_list(text: str) -> list[str]:
    """``"probe,zero_shot"`` → ``["probe", "zero_shot"]``; an unknown name is a usage error."""
    tasks = list(dict.fromkeys(text.split(",")))
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}")
    return tasks


def pretrained_pairs(checkpoints: list[str], tokenizers: list[str] | None) -> list[tuple[Path, Path]]:
    """Pair each checkpoint with its tokenizer: the ``tokenizer`` folder beside it, the one given, or the k-th."""
    if tokenizers is None:
        tokenizers = [str(Path(c).parent / "tokenizer") for c in checkpoints]
    elif len(tokenizers) == 1:
        tokenizers = tokenizers * len(checkpoints)
    elif len(tokenizers) != len(checkpoints):
        raise ValueError(f"{len(tokenizers)} tokenizers for {len(checkpoints)} checkpoints: give one, or one each")
    return [(Path(c), Path(t)) for c, t in zip(checkpoints, tokenizers)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", nargs="+", default=["bundles/msfm/models/model.pt"],
                        help="pretraining checkpoints, one per pretraining seed")
    parser.add_argument("--tokenizer", nargs="+", default=None, help="tokenizer folder(s) (default: beside each checkpoint)")
    parser.add_argument("--scale", choices=("demo", "paper"), default="demo", help="demo merges each demo.json")
    parser.add_argument("--data", default=None, help="JSON description of prepared datasets (default: demo sets)")
    parser.add_argument("--fractions", default="1,10,100", help="label fractions, as in datalist_<pct>.json")
    parser.add_argument("--no-random-baseline", action="store_true", help="skip the randomly initialised rows")
    parser.add_argument("--ablations", action="store_true", help="pretrain and score the objective ablations")
    parser.add_argument("--ablation-epochs", type=int, default=None, help="pretraining epochs of each ablation")
    parser.add_argument("--seeds", type=seed_list, default=[0], help="fine-tuning seeds of Tables 1-2, comma-separated")
    parser.add_argument("--tasks", type=task_list, default=list(TASKS), help=f"comma-separated, of {','.join(TASKS)}")
    parser.add_argument("--out", default="evaluation", help="output folder (finished runs are reused)")
    args = parser.parse_args(argv)

    try:
        pretrained = pretrained_pairs(args.checkpoint, args.tokenizer)
    except ValueError as error:
        parser.error(str(error))
    for checkpoint, tokenizer in pretrained:
        if not checkpoint.is_file():
            parser.error(f"checkpoint {checkpoint} not found: run the pretraining bundle first")
        if not tokenizer.is_dir():
            parser.error(f"tokenizer folder {tokenizer} not found (pass --tokenizer)")
    if args.data:
        data = json.loads(Path(args.data).read_text())
    else:
        from msfm.demo import ensure_demo_task

        ensure_demo_task(REPO / DEMO_TASKS, "classification")
        data = demo_datasets(DEMO_TASKS)
    settings = SuiteSettings(
        repo_root=REPO,
        pretrained=pretrained,
        data=data,
        out=Path(args.out).resolve(),
        scale=args.scale,
        fractions=args.fractions.split(","),
        seeds=args.seeds,
        tasks=args.tasks,
        random_baseline=not args.no_random_baseline,
        ablations=args.ablations,
        ablation_epochs=args.ablation_epochs,
    )
    run_suite(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
