"""Reports in the styles of the public corpora msfm meets, written for these tests (not copied from any corpus),
with the sentences that pretraining should see.

- MIMIC-CXR: "FINAL REPORT" banner, upper-case section headers with hard-wrapped bodies, ``___`` placeholders,
  "WET READ" notes, numbered impressions.
- Open-i / IU X-ray: FINDINGS and IMPRESSION only, ``XXXX`` placeholders (alone, in ``XXXX/XXXX``, in
  ``XXXX-year-old``), lost spaces after full stops, doubled punctuation, titles with a full stop.
- CheXpert-Plus: a NARRATIVE with an examination line, history, comparison and procedure headers; numbered
  impressions ended by ``END OF IMPRESSION``; a SUMMARY with an urgency code and an attestation after it.
"""

from __future__ import annotations

CATALOGUE: dict[str, tuple[str, list[str]]] = {
    "mimic-final-report": (
        """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___ year old woman with cough and fever  // ? pneumonia

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  ___

 FINDINGS:

 The cardiomediastinal silhouette is within normal limits.  There is a new
 patchy opacity in the right lower lobe.  No pleural effusion or pneumothorax
 is seen.

 IMPRESSION:

 Right lower lobe pneumonia.
""",
        [
            "The cardiomediastinal silhouette is within normal limits.",
            "There is a new patchy opacity in the right lower lobe.",
            "No pleural effusion or pneumothorax is seen.",
            "Right lower lobe pneumonia.",
        ],
    ),
    "mimic-numbered-impression-and-placeholder-date": (
        """ FINAL REPORT
 HISTORY:  Line placement.

 FINDINGS:  In comparison with the study of ___, the right internal jugular
 catheter tip is now in the mid SVC.  Cardiac silhouette is stable.

 IMPRESSION:
 1.  Right IJ line tip in the mid SVC.
 2.  No pneumothorax.
""",
        [
            "In comparison with the study of, the right internal jugular catheter tip is now in the mid SVC.",
            "Cardiac silhouette is stable.",
            "Right IJ line tip in the mid SVC.",
            "No pneumothorax.",
        ],
    ),
    "mimic-wet-read-only": (
        """WET READ: ___ ___ 3:15 PM
  Lungs are clear.  Heart size is normal.
""",
        ["Lungs are clear.", "Heart size is normal."],
    ),
    "open-i-normal": (
        "FINDINGS: The heart is normal in size. The mediastinum is unremarkable. The lungs are clear.\n"
        "IMPRESSION: No acute disease.",
        ["The heart is normal in size.", "The mediastinum is unremarkable.", "The lungs are clear.", "No acute disease."],
    ),
    "open-i-placeholders-and-lost-spaces": (
        "FINDINGS: XXXX-year-old male. Heart size within normal limits. XXXX/XXXX. ..Calcified granuloma left "
        "lung apex.There are streaky opacities in the bases , likely atelectasis. . No pneumothorax.\n"
        "IMPRESSION: 1. No acute cardiopulmonary process. 2. Findings discussed with Dr. XXXX at 10 a.m. on XXXX.",
        [
            "male.",
            "Heart size within normal limits.",
            "Calcified granuloma left lung apex.",
            "There are streaky opacities in the bases, likely atelectasis.",
            "No pneumothorax.",
            "No acute cardiopulmonary process.",
            "Findings discussed with Dr. at 10 a.m. on.",
        ],
    ),
    "chexpert-plus-narrative": (
        """NARRATIVE:
RADIOGRAPHIC EXAMINATION OF THE CHEST: 4/27/2009 5:12 AM

CLINICAL HISTORY: 67 years of age, Male, Chest pain.

COMPARISON: 4/26/2009

PROCEDURE COMMENTS: Single portable view of the chest.

FINDINGS: Interval placement of a right IJ catheter. Stable cardiomegaly.

IMPRESSION:
1. Right IJ catheter with tip in the SVC.
2. Stable cardiomegaly with mild pulmonary edema.

END OF IMPRESSION.

SUMMARY:
3-ABNORMAL, PREVIOUSLY REPORTED

I have personally reviewed the images for this examination and agreed with the report transcribed above.
""",
        [
            "Interval placement of a right IJ catheter.",
            "Stable cardiomegaly.",
            "Right IJ catheter with tip in the SVC.",
            "Stable cardiomegaly with mild pulmonary edema.",
        ],
    ),
    "chexpert-plus-impression-only": (
        """IMPRESSION:
1.  Low lung volumes.  Bibasilar opacities, which may represent atelectasis vs. early consolidation.
2.  No large pleural effusion.
END OF IMPRESSION:
SUMMARY:
4-POSSIBLE SIGNIFICANT FINDINGS, MAY NEED ACTION
""",
        [
            "Low lung volumes.",
            "Bibasilar opacities, which may represent atelectasis vs. early consolidation.",
            "No large pleural effusion.",
        ],
    ),
}
