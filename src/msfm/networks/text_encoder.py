"""Report encoder: a Hugging Face BERT with sentence pooling and an MLM head."""

from __future__ import annotations

import os

import torch
from monai.utils import optional_import
from torch import nn

from msfm.settings import require_flag

transformers, _ = optional_import("transformers")

__all__ = ["MSFMTextEncoder", "mask_tokens", "sentence_isolation"]

REPORT_POOLINGS = ("cls", "mean")
# label of the tokens without an MLM target (PyTorch's cross-entropy default)
IGNORE_INDEX = -100


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    probability: float = 0.15,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: pick ``probability`` of the maskable tokens; 80 % become [MASK], 10 % a random token,
    10 % stay.

    The scheme of ``transformers.DataCollatorForLanguageModeling``, kept here because msfm masks inside the
    network's forward pass (on the model's device, for the reports of the batch at hand) from token ids alone:
    the collator works at collation and needs the tokenizer object, which a text encoder built from sizes
    (``vocab_size``, ``mask_token_id``) does not have.

    Args:
        input_ids: ``[B, L]``.
        maskable: ``[B, L]`` bool, the tokens that may be picked (content tokens, not special or padding).
        mask_token_id: id of [MASK].
        vocab_size: range of the random replacements.
        probability: share of maskable tokens picked.
        ignore_index: label of the positions that were not picked.

    Returns:
        ``(masked_ids, labels)``, with ``labels`` the original id on picked positions, ``ignore_index`` elsewhere.
    """
    picked = (torch.rand(input_ids.shape, device=input_ids.device) < probability) & maskable
    labels = input_ids.masked_fill(~picked, ignore_index)
    choice = torch.rand(input_ids.shape, device=input_ids.device)
    masked = input_ids.masked_fill(picked & (choice < 0.8), mask_token_id)
    random_ids = torch.randint_like(input_ids, vocab_size)
    replace = picked & (choice >= 0.8) & (choice < 0.9)
    masked = torch.where(replace, random_ids, masked)
    return masked, labels


def sentence_isolation(attention_mask: torch.Tensor, sentence_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention mask and position ids that encode each sentence of a report as if it stood alone.

    A sentence's tokens see their own sentence and the first token ([CLS]); the first token sees only itself, and
    other special tokens see themselves and the first token. Positions count from 1 within each sentence (a
    sentence is a run of equal ``sentence_index``); the other tokens keep their own.

    Args:
        attention_mask: ``[B, L]``, 1 for real tokens.
        sentence_index: ``[B, L]``, the sentence of each token, -1 for special and padding tokens.

    Returns:
        ``(mask [B, 1, L, L] bool, True where a query may attend to a key; position_ids [B, L])``.
    """
    length = sentence_index.shape[1]
    steps = torch.arange(length, device=sentence_index.device)
    in_sentence = sentence_index >= 0
    same_sentence = (sentence_index[:, :, None] == sentence_index[:, None, :]) & in_sentence[:, :, None]
    allowed = same_sentence | (steps[:, None] == steps[None, :]) | (steps[None, :] == 0)
    mask = allowed & attention_mask.bool()[:, None, :]
    starts = torch.ones_like(in_sentence)
    starts[:, 1:] = sentence_index[:, 1:] != sentence_index[:, :-1]
    last_start = torch.where(starts, steps, torch.zeros_like(steps)).cummax(dim=1).values
    positions = torch.where(in_sentence, steps - last_start + 1, steps.expand_as(sentence_index))
    return mask[:, None], positions


def _read_saved_settings(encoder: MSFMTextEncoder, incompatible_keys) -> None:
    """After ``load_state_dict``: encode as the loaded weights were trained."""
    encoder._isolate_sentences = bool(encoder.isolates_sentences)
    encoder._report_pooling = "mean" if encoder.pools_report_by_mean else "cls"


class MSFMTextEncoder(nn.Module):
    """BERT report encoder with sentence features.

    Built either from a local pretrained directory (``pretrained_path``, any BERT masked-LM checkpoint saved by
    ``save_pretrained``, e.g. a CXR-BERT checkout) or from scratch with the given size.

    The report is encoded once; each sentence's feature is the mean of its tokens' features (sentences are
    identified by ``sentence_index``, -1 for special and padding tokens). The report feature is the [CLS] token
    (``report_pooling="cls"``, BERT's convention) or the mean of the report's token features over the attention
    mask (``"mean"``, the pooling Sentence-BERT found better for sentence embeddings). Mean pooling makes a report
    the average of what its words say, so a one-sentence prompt and a long report land in one space and a report
    cannot be told apart by a feature that only its template sets.

    With ``isolate_sentences`` each sentence's tokens attend only to their own sentence and to the first token
    ([CLS], which attends only to itself), and their positions restart at 1 in each sentence: a sentence inside a
    report is then encoded exactly as the same sentence alone, which is how phrase grounding and zero-shot
    prompts embed a phrase. Left off (BERT's full attention), a sentence's feature also carries the rest of its
    report, which the local term can use to tell reports apart and which a phrase alone does not have.

    Both settings are part of the weights: the ``isolates_sentences`` and ``pools_report_by_mean`` buffers save
    them, and loading a state dict sets them, so a checkpoint encodes reports as it was trained.

    Args:
        pretrained_path: local directory to load with ``from_pretrained``; None trains from scratch.
        vocab_size: vocabulary size (from scratch).
        hidden_size: width (from scratch).
        num_layers: depth (from scratch).
        num_heads: heads (from scratch).
        intermediate_size: MLP width (from scratch).
        max_length: maximum tokens per report (from scratch: position embeddings).
        max_sentences: sentence slots ``S``; sentences beyond it are dropped.
        mask_token_id: id of [MASK], for MLM.
        pad_token_id: id of the padding token.
        dropout: hidden and attention dropout (from scratch).
        report_pooling: ``"cls"`` or ``"mean"``, how the report feature is read from the token features.
        isolate_sentences: encode each sentence as if alone (see above); needs ``sentence_index`` wherever
            tokens are encoded.
        tokenizer: the report tokenizer; when given, its length, [MASK] and padding ids replace ``vocab_size``,
            ``mask_token_id`` and ``pad_token_id``.

    Raises:
        FileNotFoundError: when ``pretrained_path`` is not a directory.
        ValueError: for an unknown ``report_pooling``.
    """

    def __init__(
        self,
        pretrained_path: str | os.PathLike | None = None,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_layers: int = 12,
        num_heads: int = 12,
        intermediate_size: int = 3072,
        max_length: int = 128,
        max_sentences: int = 16,
        mask_token_id: int = 103,
        pad_token_id: int = 0,
        dropout: float = 0.1,
        report_pooling: str = "cls",
        isolate_sentences: bool = False,
        tokenizer=None,
    ) -> None:
        super().__init__()
        self.register_buffer("pools_report_by_mean", torch.zeros((), dtype=torch.uint8))
        self.register_buffer("isolates_sentences", torch.zeros((), dtype=torch.uint8))
        self.register_load_state_dict_post_hook(_read_saved_settings)
        self.report_pooling = report_pooling
        self.isolate_sentences = isolate_sentences
        if tokenizer is not None:
            vocab_size, mask_token_id, pad_token_id = len(tokenizer), tokenizer.mask_token_id, tokenizer.pad_token_id
        if pretrained_path is not None:
            if not os.path.isdir(pretrained_path):
                raise FileNotFoundError(f"pretrained text encoder directory not found: {pretrained_path}")
            self.bert = transformers.BertForMaskedLM.from_pretrained(
                os.fspath(pretrained_path), attn_implementation="sdpa"
            )
        else:
            config = transformers.BertConfig(
                vocab_size=vocab_size,
                hidden_size=hidden_size,
                num_hidden_layers=num_layers,
                num_attention_heads=num_heads,
                intermediate_size=intermediate_size,
                max_position_embeddings=max_length,
                hidden_dropout_prob=dropout,
                attention_probs_dropout_prob=dropout,
                pad_token_id=pad_token_id,
                attn_implementation="sdpa",  # PyTorch's fused attention, as the ViT uses
            )
            self.bert = transformers.BertForMaskedLM(config)
        self.max_sentences = max_sentences
        self.mask_token_id = mask_token_id

    @property
    def report_pooling(self) -> str:
        """How the report feature is read from the token features, ``"cls"`` or ``"mean"``."""
        return self._report_pooling

    @report_pooling.setter
    def report_pooling(self, pooling: str) -> None:
        if pooling not in REPORT_POOLINGS:
            raise ValueError(f"report_pooling must be one of {REPORT_POOLINGS}, got {pooling!r}.")
        self._report_pooling = pooling
        self.pools_report_by_mean.fill_(int(pooling == "mean"))

    @property
    def isolate_sentences(self) -> bool:
        """Whether each sentence is encoded as if alone (see the class docstring)."""
        return self._isolate_sentences

    @isolate_sentences.setter
    def isolate_sentences(self, isolate: bool) -> None:
        self._isolate_sentences = require_flag(isolate, "isolate_sentences")
        self.isolates_sentences.fill_(int(self._isolate_sentences))

    @property
    def hidden_size(self) -> int:
        """Width of the token features."""
        return self.bert.config.hidden_size

    @property
    def vocab_size(self) -> int:
        """Vocabulary size of the MLM head."""
        return self.bert.config.vocab_size

    def encode_tokens(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[B, L]`` ids → ``[B, L, H]`` token features.

        Raises:
            ValueError: with ``isolate_sentences`` and no ``sentence_index``.
        """
        if not self.isolate_sentences:
            return self.bert.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if sentence_index is None:
            raise ValueError("isolate_sentences needs the sentence_index of the tokens.")
        mask, positions = sentence_isolation(attention_mask, sentence_index)
        if self.bert.config._attn_implementation != "sdpa":  # eager attention adds its mask to the scores
            mask = torch.zeros(mask.shape, dtype=self.bert.dtype, device=mask.device).masked_fill(
                ~mask, torch.finfo(self.bert.dtype).min
            )
        return self.bert.bert(input_ids=input_ids, attention_mask=mask, position_ids=positions).last_hidden_state

    def pool_report(self, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``[B, L, H]`` token features → ``[B, H]`` report features (see ``report_pooling``)."""
        if self.report_pooling == "cls":
            return tokens[:, 0]
        weights = attention_mask.to(tokens.dtype)[..., None]
        return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)

    def pool_sentences(self, tokens: torch.Tensor, sentence_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean-pool token features per sentence.

        Args:
            tokens: ``[B, L, H]``.
            sentence_index: ``[B, L]``, the sentence of each token, -1 for none.

        Returns:
            ``(sentences [B, S, H], sentence_mask [B, S] bool)``.
        """
        slots = torch.arange(self.max_sentences, device=tokens.device)
        membership = (sentence_index[..., None] == slots).to(tokens.dtype)  # [B, L, S]
        counts = membership.sum(dim=1)  # [B, S]
        sentences = torch.einsum("bls,blh->bsh", membership, tokens) / counts.clamp_min(1.0)[..., None]
        return sentences, counts > 0

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """
        Returns:
            ``tokens [B, L, H]``, ``report [B, H]``, ``sentences [B, S, H]`` and ``sentence_mask [B, S]``.
        """
        tokens = self.encode_tokens(input_ids, attention_mask, sentence_index)
        sentences, sentence_mask = self.pool_sentences(tokens, sentence_index)
        report = self.pool_report(tokens, attention_mask)
        return {"tokens": tokens, "report": report, "sentences": sentences, "sentence_mask": sentence_mask}

    def forward_masked(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: torch.Tensor, probability: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MLM path: mask content tokens and predict them.

        The prediction head runs on the masked positions only, as in BERT's own pretraining code: the loss reads
        nothing else, and at a 30k vocabulary the dense ``[B, L, V]`` logits would dwarf the encoder's activations.

        Returns:
            ``(logits [N, V], labels [N])`` for the N masked tokens of the batch, in row-major order.
        """
        masked, labels = mask_tokens(input_ids, sentence_index >= 0, self.mask_token_id, self.vocab_size, probability)
        picked = labels != IGNORE_INDEX
        return self.bert.cls(self.encode_tokens(masked, attention_mask, sentence_index)[picked]), labels[picked]
