"""Saving and loading the JSON results that the book renders."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .paths import PROFILES, results_dir

# Keys of the committed results that `python -m reidlib.notebooks --verify` does not compare, because
# they are measured when the notebook runs, not computed from the run records: results file (without
# .json) -> key paths, one tuple of keys per path, "*" for any one key or list index; a path covers
# everything under it. Every other key must regenerate from the records.
VOLATILE: dict[str, tuple[tuple[str, ...], ...]] = {
    # The cost table's inference speed is timed on the machine running the notebook (models at
    # their initial weights, `reidlib.bench.infer`): it changes from one machine and one load to
    # the next. Parameters and GFLOPs beside it are counted, and checked.
    "comparison": (("costs", "*", "images / s"),),
    # The background-bias chapter's part parser is trained into .cache/parser on the machine that
    # runs the notebook (`reidlib.data.parse.cached_parts`; no run record keeps it), and its IoU
    # moves in the second decimal between CPU models (0.74 and 0.736 mean IoU on synth-small).
    # The scores of runs tested on its parts are read from their records, and checked.
    "bgbias": (("parser",),),
}


def _plain(value):
    """JSON-ready copy: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def output_folder(profile: str, output_dir: str | os.PathLike | None = None) -> Path:
    """Where a notebook saves: ``output_dir``, else ``$REIDLIB_RESULTS_OUT/<profile>``, else ``results/<profile>``.

    ``make nbval`` sets ``REIDLIB_RESULTS_OUT`` to a temporary folder, so that
    checking the notebooks never rewrites the committed results (some hold
    timings); reading (:func:`load_results`) always uses ``results/``.
    """
    if output_dir:
        return Path(output_dir)
    if os.environ.get("REIDLIB_RESULTS_OUT"):
        return Path(os.environ["REIDLIB_RESULTS_OUT"]) / profile
    return results_dir(profile)


def save_results(name: str, results: dict, profile: str, output_dir: str | os.PathLike | None = None) -> Path:
    """Write ``results`` to ``<output_folder(profile, output_dir)>/<name>.json`` and return the path."""
    folder = output_folder(profile, output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"profile": profile, **_plain(results)}, indent=2, sort_keys=True) + "\n")
    return path


def load_results(name: str, profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> dict:
    """The committed results of ``name`` from the first profile that has them.

    Chapters call this so that they show the largest-scale results that exist
    (gpu, then cpu, then ci); the returned dict says which in ``profile``.
    """
    for profile in profiles:
        path = results_dir(profile) / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    tried = ", ".join(str(results_dir(p) / f"{name}.json") for p in profiles if p in PROFILES)
    raise FileNotFoundError(f"no results for {name!r}: none of {tried} exists; run its notebook first")


def larger_profiles(profile: str) -> list[str]:
    """The profiles above ``profile``, largest first: ``"ci"`` -> ``["gpu", "cpu"]``."""
    return [p for p in reversed(PROFILES) if PROFILES.index(p) > PROFILES.index(profile)]


def largest_results(name: str, current: dict, profile: str, require: tuple[str, ...] = ()) -> dict:
    """What a chapter should show: committed results of a larger profile, else this run's.

    A ``ci`` run proves the pipeline; when ``cpu`` (or ``gpu``) results of the
    same notebook are committed, the book shows those instead. The returned
    dict says which in ``profile``. Committed results that lack a key of
    ``require`` (written before the notebook computed it) are passed over.
    """
    for larger in larger_profiles(profile):
        try:
            found = load_results(name, profiles=(larger,))
        except FileNotFoundError:
            continue
        if all(key in found for key in require):
            return found
    return {"profile": profile, **_plain(current)}


def provenance(name: str, profile: str) -> str:
    """Markdown: which committed results a chapter shows, where they came from, and how to regenerate them.

    A chapter run at ``profile`` shows the largest profile with committed
    results (see :func:`largest_results`); this names it, with the commit,
    device and date its ``<name>.run.json`` records.
    """
    shown = next((p for p in [*larger_profiles(profile), profile] if (results_dir(p) / f"{name}.json").exists()), None)
    if shown is None:
        return (f"No committed results of `{name}` yet: this page shows its own `{profile}` run. "
                f"`python -m reidlib.notebooks --profile {profile} --only {name}` writes them.")
    text = f"The numbers on this page come from the `{shown}` profile (`results/{shown}/{name}.json`)"
    run_file = results_dir(shown) / f"{name}.run.json"
    if run_file.exists():
        run = json.loads(run_file.read_text())
        text += (f", executed at commit `{run.get('git_commit', '?')[:10]}` on {run.get('device', '?')}, "
                 f"finished {run.get('finished_at', '?')}")
    return (text + ". To regenerate them: `python -m reidlib.notebooks --profile " + shown + f" --only {name}` "
            f"(finished training runs in `runs/` are reused; a cut-off run resumes from its checkpoint).")


def save_picture(fig, path: str | os.PathLike) -> None:
    """A figure as a 256-colour PNG (committed, so kept small: a half to a third of matplotlib's file, alike to the eye)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    buffer.seek(0)
    with Image.open(buffer) as im:
        im.convert("RGB").quantize(256).save(path, optimize=True)


def show_figure(fig, name: str, key: str, profile: str, output_dir: str | os.PathLike | None = None,
                keep: bool = True) -> None:
    """Show a chapter's picture of trained models: a larger profile's committed one if any, else ``fig``.

    Tables follow :func:`largest_results`; pictures drawn from a run's models
    (masks, heat maps) need the same, or a page with ``cpu`` tables would show
    the pictures of its own two-epoch ``ci`` models. So a ``cpu`` or ``gpu``
    run saves each picture as ``<results>/figures/<name>-<key>.png`` (these are
    committed with the results; SynthReID pictures only, never real datasets'
    images), and a smaller run shows the committed one, saying whose it is.
    ``keep=False`` shows without saving: pass it for pictures of a real
    dataset's images, which the repository must not hold.
    Returns nothing, so that a call at the end of a cell adds no output.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, Markdown, display

    if keep and profile != "ci":  # ci pictures are redrawn by every check; only the studies' pictures are kept
        folder = output_folder(profile, output_dir) / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        save_picture(fig, folder / f"{name}-{key}.png")
    for larger in larger_profiles(profile):
        path = results_dir(larger) / "figures" / f"{name}-{key}.png"
        if path.exists():
            plt.close(fig)
            display(Markdown(f"*Drawn from the `{larger}` profile's models (`results/{larger}/figures/{path.name}`), "
                             f"like the tables.*"))
            display(Image(filename=str(path)))
            return
    plt.show()


MISSING = type("Missing", (), {"__repr__": lambda self: "(absent)"})()  # a key on one side only


def _covered(path: tuple, patterns) -> bool:
    return any(len(path) >= len(p) and all(q == "*" or q == k for q, k in zip(p, map(str, path))) for p in patterns)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_results(committed, regenerated, ignore=(), rel_tol: float = 1e-9, abs_tol: float = 1e-12,
                    _path: tuple = ()) -> list[tuple[tuple, object, object]]:
    """Where two results (JSON values) differ: ``[(key path, committed value, regenerated value)]``.

    Every key, recursively; numbers equal within ``rel_tol`` / ``abs_tol``
    (NaN equals NaN), strings, booleans and the rest exactly; a key or list
    item on one side only is a difference (:data:`MISSING` on the other).
    Paths covered by ``ignore`` (tuples of keys, ``"*"`` for any one; see
    :data:`VOLATILE`) are left out. A list of another length is one difference
    (the two lengths), then its common items are compared.
    """
    if _covered(_path, ignore):
        return []
    if isinstance(committed, dict) and isinstance(regenerated, dict):
        out = []
        for key in sorted(set(committed) | set(regenerated), key=str):
            out += compare_results(committed.get(key, MISSING), regenerated.get(key, MISSING), ignore,
                                   rel_tol, abs_tol, (*_path, key))
        return out
    if isinstance(committed, list) and isinstance(regenerated, list):
        out = []
        if len(committed) != len(regenerated) and not _covered((*_path, "*"), ignore):
            out.append((_path, f"a list of {len(committed)}", f"a list of {len(regenerated)}"))
        for i, (a, b) in enumerate(zip(committed, regenerated)):
            out += compare_results(a, b, ignore, rel_tol, abs_tol, (*_path, i))
        return out
    if _number(committed) and _number(regenerated):
        a, b = float(committed), float(regenerated)
        if math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol) or (math.isnan(a) and math.isnan(b)):
            return []
        return [(_path, committed, regenerated)]
    if type(committed) is type(regenerated) and committed == regenerated:
        return []
    return [(_path, committed, regenerated)]


def key_path(path: tuple) -> str:
    """``("costs", "FA-Net", 0)`` as ``costs["FA-Net"][0]``: a key path of :func:`compare_results`, readable."""
    return "".join(f"[{k}]" if isinstance(k, int) else (k if i == 0 else f"[{json.dumps(k)}]")
                   for i, k in enumerate(path)) or "(the whole file)"
