"""Data: radiograph reading, report handling, tokenisation and dataset preparers (:mod:`msfm.data.datasets`)."""

from __future__ import annotations

from msfm.data.datalists import datalist_classes, load_split
from msfm.data.io import RadiographPNGWriter, RadiographReader, is_dicom, make_dicom, read_radiograph
from msfm.data.letterbox import Letterbox
from msfm.data.reports import clean_report, extract_sections, report_sentences, split_sentences
from msfm.data.resized import resize_radiograph, write_resized_dataset
from msfm.data.sentence_augmentation import RandSentenceSubsetd
from msfm.data.tokenization import (
    TokenizeReportd,
    load_or_train_tokenizer,
    load_tokenizer,
    tokenize_sentences,
    train_wordpiece_tokenizer,
)

__all__ = [
    "Letterbox",
    "RadiographPNGWriter",
    "RadiographReader",
    "RandSentenceSubsetd",
    "TokenizeReportd",
    "clean_report",
    "datalist_classes",
    "extract_sections",
    "is_dicom",
    "load_or_train_tokenizer",
    "load_tokenizer",
    "load_split",
    "make_dicom",
    "read_radiograph",
    "resize_radiograph",
    "write_resized_dataset",
    "report_sentences",
    "split_sentences",
    "tokenize_sentences",
    "train_wordpiece_tokenizer",
]
