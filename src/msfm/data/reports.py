"""Free-text radiology reports: sectioning, cleaning and sentence splitting."""

from __future__ import annotations

import re

__all__ = ["extract_sections", "clean_report", "split_sentences", "report_sentences"]

# A section header is an upper-case phrase ending with a colon at the start of a line, e.g. "FINDINGS:".
_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /&()-]{1,40}?)[ \t]*:", re.MULTILINE)
_KEPT_SECTIONS = ("FINDINGS", "IMPRESSION")
_PLACEHOLDER = re.compile(r"_{2,}")
_LIST_NUMBER = re.compile(r"(?:(?<=\s)|^)\d{1,2}[.)](?=\s)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9(])")


def extract_sections(text: str) -> dict[str, str]:
    """Split a report into its ``HEADER: body`` sections; text before the first header goes under ``""``."""
    sections: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    sections[""] = text[: matches[0].start()] if matches else text
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(text)
        name = " ".join(match.group(1).split())
        sections[name] = (sections.get(name, "") + " " + text[match.end() : end]).strip()
    return sections


def clean_report(text: str) -> str:
    """Keep FINDINGS and IMPRESSION when present (otherwise the whole text), drop de-identification
    placeholders (``___``), list numbers and hard wraps.

    Args:
        text: raw report text.

    Returns:
        one line of cleaned text (possibly empty).
    """
    sections = extract_sections(text)
    kept = [sections[name] for name in _KEPT_SECTIONS if sections.get(name, "").strip()]
    if not kept:
        kept = [text]
    body = " ".join(kept)
    body = _PLACEHOLDER.sub(" ", body)
    body = _LIST_NUMBER.sub(" ", body)
    return " ".join(body.split())


def split_sentences(text: str) -> list[str]:
    """Split cleaned text into sentences at ``.``, ``!`` or ``?`` followed by whitespace."""
    return [s.strip() for s in _SENTENCE_END.split(text) if re.search(r"[A-Za-z0-9]", s)]


def report_sentences(text: str) -> list[str]:
    """Clean a raw report and split it into sentences.

    Raises:
        ValueError: when no sentence with text remains.
    """
    sentences = split_sentences(clean_report(text))
    if not sentences:
        raise ValueError("the report has no usable text after cleaning.")
    return sentences
