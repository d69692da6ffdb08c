"""Verdicts and results reach the notebooks' prose through glue, never typed by hand.

A verdict word or a measured number typed in a markdown cell goes stale the
moment a run changes (the review of the cpu study found several). This scans
every notebook's markdown, with glue roles, inline code and code blocks taken
out, for the rule's verdict words and for numbers that look like results:
with a decimal point, a percent sign or a sign. Integers (table and figure
numbers, counts of seeds) are prose; a parameter with decimals goes in
inline code.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
GLUE = re.compile(r"\{glue(:\w+)?\}`[^`]*`")
CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)
LINK_TARGET = re.compile(r"\]\([^)]*\)")
VERDICT = re.compile(r"\b(not reproduced|reproduced|inconclusive|not testable|withdrawn)\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])([+\-−±]\s?\d+(\.\d+)?|\d+(\.\d+)?\s?%|\d+\.\d+)")


def prose(markdown: str) -> str:
    """``markdown`` without glue roles, code and link targets: what a person typed as text."""
    return LINK_TARGET.sub("]", CODE.sub(" ", GLUE.sub(" ", markdown)))


def typed_results(markdown: str) -> list[str]:
    text = prose(markdown)
    return [m.group(0) for m in VERDICT.finditer(text)] + [m.group(0) for m in NUMBER.finditer(text)]


def test_the_scan_finds_typed_verdicts_and_numbers_and_passes_glued_ones():
    assert typed_results("FA-Net reaches 94.6 % rank-1; the claim is reproduced.") == ["reproduced", "94.6 %"]
    assert typed_results("The loss fell by +3 points and 12 % of queries") == ["+3", "12 %"]
    assert typed_results("It reaches {glue:text}`fanet_rank1:.1%` ({glue:text}`t1_counts`) with `p = 0.5` "
                         "in Table 2 of Fig. 5, over 3 seeds (see [the page](page-1.5.md)).") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_verdict_or_result_is_typed_in_a_notebooks_markdown(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    found = {i: typed_results("".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "markdown"}
    found = {i: hits for i, hits in found.items() if hits}
    assert not found, (f"{notebook.name}: markdown cells type verdicts or results by hand (cell: what); glue them "
                       f"from computed values, or put a parameter in inline code: {found}")


def test_every_chapter_and_method_module_names_its_paper_by_title():
    from reidlib.papers import CITATIONS

    root = NOTEBOOKS[0].parents[1]
    modules = {"fanet": "fanet.py", "ftn": "ftn.py", "bgbias": "bgbias.py", "mgcam": "mgcam.py", "fmn": "fmn.py"}
    for paper, cited in CITATIONS.items():
        first = "".join(json.loads((root / "notebooks" / f"{paper}.ipynb").read_text())["cells"][0]["source"])
        assert f'*Paper:* "{cited["title"]}"' in first, f"the {paper} chapter does not open with its paper's title"
        docstring = (root / "reidlib" / "models" / modules[paper]).read_text().split('"""')[1]
        assert cited["title"] in " ".join(docstring.split()), f"{modules[paper]} does not name its paper by title"
