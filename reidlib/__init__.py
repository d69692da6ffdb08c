"""reidlib: models, losses and evaluation for the study of backgrounds in person re-identification.

Subpackages: :mod:`reidlib.data` (datasets, masks, transforms, SynthReID),
:mod:`reidlib.eval` (distances, ranking metrics, re-ranking, metric learning),
:mod:`reidlib.viz` (pictures for the book), :mod:`reidlib.notebooks` (the
papermill runner) and :mod:`reidlib.bench` (benchmarks that print figures).
"""

__version__ = "0.1.0"
