"""The default recipe on a third public data set, where TF-IDF is strong: every preset and both baselines.

The data: the ICD-10-CM tabular list (April 2026 release, published by the US National Center for Health
Statistics for free use) as shipped in simple-icd-10-cm 1.5.0 from PyPI (MIT, pinned by sha256). The text
is the title of each three-character diagnosis category ("Iron deficiency anemia", "Superficial injury of
head"), the label its chapter ("Diseases of the blood and blood-forming organs ..."): short English
diagnosis names filed under 22 chapters, 273 categories for external causes down to 24 for the ear, and 2
for special purposes (dropped by data.min_count). A task a user meets (coding short clinical texts), with
a natural tail and words that often give the chapter away, so a word-count baseline is hard to beat.

The config sets only what a user must, as in bench/quality/second_dataset.py: the data, the split
fractions, the minimum rows per chapter, the demo's model, an English prompt for the zero-shot baseline
and the demo's presets; every training knob is the schema's default. Split seed 7, as there.
    python -m bench.quality.third_dataset [--work bench-runs/icd10cm] [--cores 2] [--split-seed 7] [--data-only]
"""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from bench.common.study import Study, main
from focalcls.data.cleaning import LABEL, TEXT

PACKAGE, VERSION = "simple-icd-10-cm", "1.5.0"
SHA256 = "95a58fbb935d21a93618a470c76fae9997d0f270e204b60a5c2b7cd3a7691c0c"
TABULAR = re.compile(r"/data/icd10cm?-tabular-[^/]*\.xml$")


def chapter_title(desc: str) -> str:
    """'Neoplasms (C00-D49)' -> 'Neoplasms': the code range says nothing a reader of the label needs."""
    return re.sub(r"\s*\([A-Z0-9]+-[A-Z0-9]+\)$", "", desc.strip())


def diagnosis_categories(sdist: Path) -> pd.DataFrame:
    """One row per three-character category: its title as text, its chapter's title as label."""
    with tarfile.open(sdist) as archive:
        member = next(name for name in sorted(archive.getnames()) if TABULAR.search(name))
        root = ET.fromstring(archive.extractfile(member).read())
    rows = [
        (diag.findtext("desc").strip(), chapter_title(chapter.findtext("desc")))
        for chapter in root.iter("chapter")
        for section in chapter.findall("section")
        for diag in section.findall("diag")
    ]
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


PROMPT = "Diagnosis: {text}\nChapters: {labels}\nThe ICD-10-CM chapter of this diagnosis is:"
STUDY = Study(PACKAGE, VERSION, SHA256, "icd10cm", diagnosis_categories, PROMPT)

if __name__ == "__main__":
    main(STUDY, __doc__)
