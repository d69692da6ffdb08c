"""Notebooks stay thin: a code cell sets parameters, calls reidlib and shows the result (issue 35, item 5).

Logic that grows past a few lines belongs in ``reidlib`` (``reidlib/chapters/`` holds what one chapter
alone needs), where it is read as code, linted and unit-tested. This test counts the lines of logic in
every code cell of ``notebooks/``: blank lines, comments and import statements are not logic, and the
papermill ``parameters`` cell (settings only) is not counted.
"""

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MAX_LOGIC_LINES = 15


def logic_lines(source: str) -> int:
    """Lines of ``source`` that are neither blank, comments nor part of an import statement."""
    imports = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(range(node.lineno, node.end_lineno + 1))
    return sum(1 for n, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and n not in imports)


def test_logic_lines_counts_what_it_should():
    source = "import os\nfrom a import (b,\n    c)\n\n# why\nx = 1\nif x:\n    y = 2  # note\n"
    assert logic_lines(source) == 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_thin(path):
    cells = json.loads(path.read_text())["cells"]
    heavy = [(i, logic_lines("".join(c["source"]))) for i, c in enumerate(cells)
             if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]
    heavy = [(i, n) for i, n in heavy if n > MAX_LOGIC_LINES]
    assert not heavy, (f"{path.name}: code cells {heavy} (index, lines of logic) hold more than {MAX_LOGIC_LINES} "
                       "lines of logic; move it into reidlib (reidlib/chapters/ for one chapter's own logic)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_is_folded_away_in_the_book(path):
    # The book is read for its prose, tables and figures: every code cell's source sits behind a toggle
    # (hide-input) or is removed; `python -m reidlib.notebooks --store-outputs` tags new cells.
    from reidlib.notebooks import SOURCE_TAGS

    cells = json.loads(path.read_text())["cells"]
    shown = [i for i, c in enumerate(cells)
             if c["cell_type"] == "code" and not SOURCE_TAGS & set(c.get("metadata", {}).get("tags", []))]
    assert not shown, f"{path.name}: code cells {shown} show their source; tag them hide-input (or store the outputs)"


def test_hide_code_tags_only_cells_whose_source_has_no_say_yet():
    import nbformat

    from reidlib.notebooks import hide_code

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("z = 3")])
    hide_code(nb)
    hide_code(nb)  # (twice: no second tag)
    assert [c.metadata.get("tags") for c in nb.cells] == [None, ["parameters", "hide-input"], ["remove-input"],
                                                          ["hide-input"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_page_shows_the_command_that_regenerates_it(path):
    # With the code folded away, the command must be in the prose or printed by a cell
    # (reidlib.results.provenance prints the one of the profile the numbers come from).
    cells = json.loads(path.read_text())["cells"]
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert f"python -m reidlib.notebooks --only {path.stem}" in prose or "provenance(" in code, (
        f"{path.name} shows no command that regenerates it: print provenance(...) or say it in the prose")
