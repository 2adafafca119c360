from __future__ import annotations

import pytest

from msfm.data import clean_report, extract_sections, report_sentences, split_sentences
from tests.data.report_catalogue import CATALOGUE

MIMIC_STYLE = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with cough.

 COMPARISON:  ___

 FINDINGS:
 
 1. There is a new opacity in the right lower
 lobe. No pleural effusion.
 
 IMPRESSION:
 
 Right lower lobe pneumonia.
"""


def test_keeps_findings_and_impression():
    assert extract_sections(MIMIC_STYLE)["INDICATION"].startswith("___F")
    assert clean_report(MIMIC_STYLE) == (
        "There is a new opacity in the right lower lobe. No pleural effusion. Right lower lobe pneumonia."
    )


def test_falls_back_to_the_whole_text_and_drops_placeholders():
    assert clean_report("Heart size normal.\nLungs   clear, ___ noted.") == "Heart size normal. Lungs clear, noted."
    assert clean_report("IMPRESSION: No acute process.") == "No acute process."


@pytest.mark.parametrize(
    "text,expected",
    [
        ("No effusion. Heart normal.", ["No effusion.", "Heart normal."]),
        ("Opacity at 3.5 cm. Stable!", ["Opacity at 3.5 cm.", "Stable!"]),
        ("single sentence without stop", ["single sentence without stop"]),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_empty_report_is_an_error():
    with pytest.raises(ValueError, match="no usable text"):
        report_sentences("FINDINGS: ___ \n IMPRESSION: ")


# Open-i (IU X-ray) style: "XXXX" anonymisation, a title before the full stop, a lost space and stray marks
OPEN_I_STYLE = (
    "FINDINGS: The heart is normal in size. The mediastinum is unremarkable. XXXX/XXXX. ..Left lung apex.There "
    "are streaky opacities . . Findings discussed with Dr. XXXX at 3 p.m. by telephone.\n"
    "IMPRESSION: No acute cardiopulmonary disease, e.g. no effusion. Seen at 3 p.m. Follow-up advised."
)


def test_real_world_report_quirks():
    assert report_sentences(OPEN_I_STYLE) == [
        "The heart is normal in size.",
        "The mediastinum is unremarkable.",
        "Left lung apex.",
        "There are streaky opacities.",
        "Findings discussed with Dr. at 3 p.m. by telephone.",
        "No acute cardiopulmonary disease, e.g. no effusion.",
        "Seen at 3 p.m.",
        "Follow-up advised.",
    ]
    assert "XXXX" not in clean_report(OPEN_I_STYLE) and ".." not in clean_report(OPEN_I_STYLE)


@pytest.mark.parametrize("text", ["Opacity of 3.5 cm. Stable.", "Compared with the XR of 2 views. Clear."])
def test_quirk_handling_leaves_ordinary_text_alone(text):
    assert clean_report(text) == text


def test_a_sentence_ending_in_no_still_ends():
    assert split_sentences("Pleural effusion: no. Pneumothorax: no.") == ["Pleural effusion: no.", "Pneumothorax: no."]


@pytest.mark.parametrize("style", CATALOGUE)
def test_report_style_catalogue(style):
    """Sectioning, placeholder removal and sentence splitting of MIMIC-CXR, Open-i and CheXpert-Plus styles."""
    text, expected = CATALOGUE[style]
    assert report_sentences(text) == expected
