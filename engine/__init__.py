"""The computing core of Causal Workbench.

Everything that loads problems, checks and runs agent proposals, samples, scores,
diagnoses and records lives here. The engine never imports Textual or Rich, so it
works with no terminal at all (``tests/test_layers.py`` keeps that true).

Submodules are imported explicitly (``from engine.problem_load import load_problem``);
this package imports nothing heavy so that the TUI's first frame stays fast.
"""

__version__ = "0.1.0"
