"""Free-text radiology reports: sectioning, cleaning and sentence splitting."""

from __future__ import annotations

import re

__all__ = ["extract_sections", "clean_report", "split_sentences", "report_sentences"]

# A section header is an upper-case phrase ending with a colon at the start of a line, e.g. "FINDINGS:".
_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /&()-]{1,40}?)[ \t]*:", re.MULTILINE)
_KEPT_SECTIONS = ("FINDINGS", "IMPRESSION")
# De-identification placeholders: MIMIC-CXR's "___" and Open-i's "XXXX" (also inside "XXXX/XXXX", "XXXX-year-old").
_PLACEHOLDER = re.compile(r"_{2,}|(?<![A-Za-z])X{2,}(?:-(?:year|month|week|day)-old)?(?![A-Za-z])-?")
# Lines that carry no finding: MIMIC-CXR's banner and wet-read stamp, CheXpert-Plus's impression end marker.
_BOILERPLATE = re.compile(r"^[ \t]*(?:FINAL REPORT|WET READ:[^\n]*|END OF IMPRESSION[.:]?)[ \t]*$", re.MULTILINE)
_LIST_NUMBER = re.compile(r"(?:(?<=\s)|^)\d{1,2}[.)](?=\s)")
# "apex.There": a full stop between a word and a capitalised word, with no space.
_MISSING_SPACE = re.compile(r"(?<=[a-z]{2})([.!?])(?=[A-Z][a-z])")
# ".." or ". ." after a sentence end (and what a removed placeholder leaves there, such as ". /.") collapse to
# the first mark.
_STRAY_MARKS = re.compile(r"([.!?])(?:\s*[.!?,;:/-])+")
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[.,;:!?](?:\s|$))")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9(])")
# Words whose full stop does not end a sentence ("discussed with Dr. Smith").
_ABBREVIATIONS = ("dr", "drs", "mr", "mrs", "ms", "prof", "vs", "approx", "e.g", "i.e", "cf", "fig")


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
    """Keep FINDINGS and IMPRESSION when present (otherwise the whole text), drop boilerplate lines (MIMIC-CXR's
    ``FINAL REPORT`` and ``WET READ`` stamp, CheXpert-Plus's ``END OF IMPRESSION``), de-identification
    placeholders (MIMIC-CXR's ``___``, Open-i's ``XXXX`` and ``XXXX-year-old``), list numbers and hard wraps,
    restore the space after a full stop that lost it (``apex.There``) and collapse stray punctuation (``..``,
    ``. .``). Sections after IMPRESSION (CheXpert-Plus's SUMMARY and attestation) are not kept.

    Args:
        text: raw report text.

    Returns:
        one line of cleaned text (possibly empty).
    """
    text = _BOILERPLATE.sub("", text)
    sections = extract_sections(text)
    kept = [sections[name] for name in _KEPT_SECTIONS if sections.get(name, "").strip()]
    if not kept:
        kept = [text]
    body = " ".join(kept)
    body = _PLACEHOLDER.sub(" ", body)
    body = _LIST_NUMBER.sub(" ", body)
    body = _SPACE_BEFORE_MARK.sub("", " ".join(body.split()))
    body = _STRAY_MARKS.sub(r"\1", body)
    body = _MISSING_SPACE.sub(r"\1 ", body)
    return " ".join(body.split())


def split_sentences(text: str) -> list[str]:
    """Split cleaned text into sentences at ``.``, ``!`` or ``?`` followed by whitespace, except after common
    abbreviations (``Dr.``, ``vs.``) and after dotted ones (``p.m.``, ``e.g.``) that a lower-case word follows;
    pieces without a letter or digit are dropped."""
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(text):
        last = sentences[-1].split()[-1].lower().rstrip(".") if sentences else ""
        dotted = "." in last and piece[:1].islower()
        if sentences and sentences[-1].endswith(".") and (last in _ABBREVIATIONS or dotted):
            sentences[-1] = f"{sentences[-1]} {piece.strip()}"
        else:
            sentences.append(piece.strip())
    return [s for s in sentences if re.search(r"[A-Za-z0-9]", s)]


def report_sentences(text: str) -> list[str]:
    """Clean a raw report and split it into sentences.

    Raises:
        ValueError: when no sentence with text remains.
    """
    sentences = split_sentences(clean_report(text))
    if not sentences:
        raise ValueError("the report has no usable text after cleaning.")
    return sentences
