"""Data: radiograph reading, report handling, tokenisation, the demo corpus and dataset preparers
(:mod:`msfm.data.datasets`)."""

from __future__ import annotations

from msfm.data.demo import ensure_demo_datalist, make_demo_dataset, synthesize_case
from msfm.data.io import RadiographReader, is_dicom, make_dicom, read_radiograph
from msfm.data.reports import clean_report, extract_sections, report_sentences, split_sentences
from msfm.data.tokenization import (
    TokenizeReportd,
    load_or_train_tokenizer,
    tokenize_sentences,
    train_wordpiece_tokenizer,
)

__all__ = [
    "RadiographReader",
    "TokenizeReportd",
    "clean_report",
    "ensure_demo_datalist",
    "extract_sections",
    "is_dicom",
    "load_or_train_tokenizer",
    "make_dicom",
    "make_demo_dataset",
    "read_radiograph",
    "report_sentences",
    "split_sentences",
    "synthesize_case",
    "tokenize_sentences",
    "train_wordpiece_tokenizer",
]
