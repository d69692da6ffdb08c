"""What one chapter of the book alone computes: its claims, tables and the figures it glues into its prose.

A notebook in ``notebooks/`` sets its parameters, calls one of these modules (and the shared ones:
:mod:`reidlib.ablation`, :mod:`reidlib.claims`, :mod:`reidlib.results`) and shows the result, so that
the logic is read as code, linted and unit-tested. One module per chapter, named after its notebook;
the chapters *The papers' setting, scaled down* and *Comparison* keep theirs in :mod:`reidlib.regime`
and :mod:`reidlib.compare`.
"""
