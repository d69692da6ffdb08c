"""The repository promises of the README: pins, the two commands, CI."""

import re
import tomllib

from reidlib.paths import REPO_ROOT


def test_pins_live_in_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(re.match(r"([A-Za-z0-9_.-]+)==(.+)", d).groups() for d in
                project["dependencies"] + project["optional-dependencies"]["study"])
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["jupyter-book"].startswith("1.0.")
    for name in ("papermill", "nbval", "seaborn", "jupyterlab", "numpy", "matplotlib", "scipy", "tqdm", "pytest"):
        assert name in pins, f"{name} is not pinned"


def test_conda_environment_installs_the_same_pins():
    env = (REPO_ROOT / "environment.yml").read_text()
    assert "python=3.11" in env and '-e ".[study]"' in env


def test_readme_and_ci_give_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()


def test_book_lists_the_executed_notebooks():
    toc = (REPO_ROOT / "book" / "_toc.yml").read_text()
    for nb in (REPO_ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}" in toc, f"{nb.name} is not in book/_toc.yml"
