"""Data: radiograph reading, report handling, tokenisation, the demo corpus and dataset preparers
(:mod:`msfm.data.datasets`)."""

from __future__ import annotations

from msfm.data.demo import ensure_demo_datalist, make_demo_dataset, synthesize_case
from msfm.data.datalists import datalist_classes, load_split
from msfm.data.demo_tasks import DEMO_TASKS, ensure_demo_task, make_demo_tasks
from msfm.data.letterbox import Letterbox
from msfm.data.io import RadiographPNGWriter, RadiographReader, is_dicom, make_dicom, read_radiograph
from msfm.data.reports import clean_report, extract_sections, report_sentences, split_sentences
from msfm.data.tokenization import (
    TokenizeReportd,
    load_or_train_tokenizer,
    tokenize_sentences,
    train_wordpiece_tokenizer,
)

__all__ = [
    "DEMO_TASKS",
    "Letterbox",
    "RadiographPNGWriter",
    "RadiographReader",
    "TokenizeReportd",
    "clean_report",
    "datalist_classes",
    "ensure_demo_datalist",
    "ensure_demo_task",
    "extract_sections",
    "is_dicom",
    "load_or_train_tokenizer",
    "load_split",
    "make_dicom",
    "make_demo_dataset",
    "make_demo_tasks",
    "read_radiograph",
    "report_sentences",
    "split_sentences",
    "synthesize_case",
    "tokenize_sentences",
    "train_wordpiece_tokenizer",
]
