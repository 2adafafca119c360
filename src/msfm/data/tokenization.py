"""Report tokenisation that keeps sentence spans, and the offline WordPiece tokenizer."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from filelock import FileLock
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import optional_import

from msfm.data.reports import clean_report, report_sentences

transformers, _ = optional_import("transformers")
tokenizers, _ = optional_import("tokenizers")

__all__ = [
    "TokenizeReportd",
    "load_or_train_tokenizer",
    "load_tokenizer",
    "tokenize_sentences",
    "train_wordpiece_tokenizer",
]

logger = logging.getLogger(__name__)

# written beside a tokenizer that msfm trained: which reports it learned its vocabulary from
TRAINED_ON = "msfm_tokenizer_source.json"
CONTINUING_PREFIX = "##"


def train_wordpiece_tokenizer(
    reports: Iterable[str], save_dir: str | os.PathLike, vocab_size: int = 30522, min_frequency: int = 2
):
    """Train an uncased BERT WordPiece tokenizer on cleaned reports and save it with ``save_pretrained``.

    The same reports always give the same vocabulary. ``tokenizers``' trainer numbers the word-internal
    pieces (``##e``) in hash-map order, which changes from run to run, and breaks ties between equally frequent
    merges by those numbers (huggingface/tokenizers#1794), so two trainings on one corpus could disagree.
    Here those pieces are listed, sorted, with the special tokens, which the trainer numbers first; the
    tokenizer is then rebuilt from the trained vocabulary with only the real special tokens.

    Args:
        reports: raw report texts.
        save_dir: output directory.
        vocab_size: target vocabulary size (the result is smaller on a small corpus).
        min_frequency: minimum count of a merged piece.

    Returns:
        the trained ``transformers.PreTrainedTokenizerFast``.
    """
    special = {
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    texts = [clean_report(r) for r in reports]
    inner_chars = {
        char
        for text in texts
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        for char in word[1:]
    }
    inner_pieces = [f"{CONTINUING_PREFIX}{char}" for char in sorted(inner_chars)]
    trainer = tokenizers.trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[*special.values(), *inner_pieces],
        continuing_subword_prefix=CONTINUING_PREFIX,
        show_progress=False,
    )
    trained = _wordpiece(tokenizers.models.WordPiece(unk_token=special["unk_token"]), normalizer, pre_tokenizer)
    trained.train_from_iterator(texts, trainer=trainer)
    vocabulary = trained.get_vocab(with_added_tokens=False)
    wordpiece = _wordpiece(
        tokenizers.models.WordPiece(vocabulary, unk_token=special["unk_token"]), normalizer, pre_tokenizer
    )
    wordpiece.add_special_tokens(list(special.values()))
    wordpiece.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocabulary["[CLS]"]), ("[SEP]", vocabulary["[SEP]"])],
    )
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=wordpiece, **special)
    tokenizer.save_pretrained(os.fspath(save_dir))
    return transformers.AutoTokenizer.from_pretrained(os.fspath(save_dir))


def _wordpiece(model, normalizer, pre_tokenizer):
    """A ``tokenizers.Tokenizer`` around a WordPiece ``model`` with BERT's text handling."""
    wordpiece = tokenizers.Tokenizer(model)
    wordpiece.normalizer = normalizer
    wordpiece.pre_tokenizer = pre_tokenizer
    wordpiece.decoder = tokenizers.decoders.WordPiece(prefix=CONTINUING_PREFIX)
    return wordpiece


def load_tokenizer(path: str | os.PathLike):
    """Load a saved tokenizer (a ``save_pretrained`` directory, e.g. a pretrained BERT's); never trains one.

    Raises:
        FileNotFoundError: naming the directory and how to make the tokenizer.
    """
    if not (Path(path) / "tokenizer_config.json").exists():
        raise FileNotFoundError(
            f"no tokenizer in {path}: run the pretraining bundle's 'prepare' (its 'training' runs it first), or "
            "set tokenizer_dir to the pretraining run's models/tokenizer."
        )
    return transformers.AutoTokenizer.from_pretrained(os.fspath(path))


def load_or_train_tokenizer(
    path: str | os.PathLike,
    datalist: str | os.PathLike | None = None,
    vocab_size: int = 30522,
    min_frequency: int = 2,
    key: str = "training",
):
    """Load the tokenizer saved in ``path``, or train one on the reports of ``datalist[key]`` and save it there.

    A tokenizer that msfm trained records its datalist beside it; loading it for another datalist is an error,
    so that a stale vocabulary (say, the demo's) never carries into a new corpus's pretraining.

    Args:
        path: tokenizer directory (a pretrained model's own directory works too).
        datalist: datalist JSON whose ``key`` entries carry ``report`` texts; needed only to train.
        vocab_size: vocabulary size when training.
        min_frequency: minimum piece count when training.
        key: datalist section to train on.

    Returns:
        a ``transformers`` fast tokenizer.

    Raises:
        FileNotFoundError: when there is no tokenizer at ``path`` and no datalist to train one.
        ValueError: naming both, when the tokenizer at ``path`` was trained on another datalist.
    """
    path = Path(path)
    source = {"datalist": os.path.abspath(datalist), "section": key} if datalist is not None else None
    if not (path / "tokenizer_config.json").exists():
        if datalist is None:
            raise FileNotFoundError(
                f"no tokenizer in {path} and no datalist to train one on: pass --datalist FILE (or set "
                "tokenizer_dir or text_pretrained_path to an existing tokenizer)."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):  # ranks of one torchrun start together: one trains, the others wait
            if not (path / "tokenizer_config.json").exists():
                with open(datalist) as f:
                    entries = json.load(f)[key]
                logger.info(f"training a WordPiece tokenizer on {len(entries)} reports of {datalist} into {path}")
                train_wordpiece_tokenizer((e["report"] for e in entries), path, vocab_size, min_frequency)
                (path / TRAINED_ON).write_text(json.dumps(source, indent=2))
    elif source is not None and (path / TRAINED_ON).exists():
        trained_on = json.loads((path / TRAINED_ON).read_text())
        if trained_on != source:
            raise ValueError(
                f"the tokenizer in {path} was trained on {trained_on['datalist']}, not {source['datalist']}: set "
                "tokenizer_dir (or model_dir) to a new folder, or delete the old tokenizer."
            )
    return load_tokenizer(path)


def tokenize_sentences(
    sentences: Sequence[str], tokenizer, max_length: int, max_sentences: int
) -> dict[str, np.ndarray]:
    """Tokenise sentences into one ``[CLS] s0 s1 ... [SEP]`` sequence and record each token's sentence.

    Args:
        sentences: the report's sentences.
        tokenizer: a BERT-style ``transformers`` tokenizer.
        max_length: sequence length (truncate, then pad).
        max_sentences: sentences kept.

    Returns:
        ``input_ids``, ``attention_mask`` and ``sentence_index`` (-1 on [CLS], [SEP] and padding), int64 ``[L]``.
    """
    pieces = tokenizer(list(sentences[:max_sentences]), add_special_tokens=False)["input_ids"]
    ids, owner = [tokenizer.cls_token_id], [-1]
    for index, piece in enumerate(pieces):
        ids += piece
        owner += [index] * len(piece)
    ids, owner = ids[: max_length - 1] + [tokenizer.sep_token_id], owner[: max_length - 1] + [-1]
    pad = max_length - len(ids)
    return {
        "input_ids": np.asarray(ids + [tokenizer.pad_token_id] * pad, dtype=np.int64),
        "attention_mask": np.asarray([1] * len(ids) + [0] * pad, dtype=np.int64),
        "sentence_index": np.asarray(owner + [-1] * pad, dtype=np.int64),
    }


class TokenizeReportd(MapTransform):
    """Clean, sentence-split and tokenise the report text under ``keys``.

    Adds ``input_ids``, ``attention_mask`` and ``sentence_index`` (see :func:`tokenize_sentences`).

    Args:
        keys: the report key (one).
        tokenizer: a BERT-style ``transformers`` tokenizer.
        max_length: tokens per report.
        max_sentences: sentences per report.
        source_key: key named in error messages to identify the sample (e.g. the image path).
        allow_missing_keys: skip a missing report key.

    Raises:
        ValueError: naming the sample, when its report has no usable text.
    """

    def __init__(
        self,
        keys: KeysCollection,
        tokenizer,
        max_length: int = 128,
        max_sentences: int = 16,
        source_key: str = "image",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_sentences = max_sentences
        self.source_key = source_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            try:
                sentences = report_sentences(str(d[key]))
            except ValueError as error:
                raise ValueError(f"{d.get(self.source_key, '<sample>')}: {error}") from error
            d.update(tokenize_sentences(sentences, self.tokenizer, self.max_length, self.max_sentences))
        return d
