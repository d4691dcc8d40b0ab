"""Textual screens and widgets of the workbench, one screen per module.

- :mod:`screens.home` — problem, contract, data, current best, iterations
- :mod:`screens.review` — a proposal: diff, guard findings, compile check; approve / reject / edit / skip
- :mod:`screens.edit_proposal` — the principal's edit of a proposed file
- :mod:`screens.run` — live per-chain sampling progress; cancel
- :mod:`screens.verdict` — verdict, deciding gate, convergence, Pareto k, plots, diff, record
- :mod:`screens.design` — design-loop result: DR estimate, diagnostics, refuters, sensitivity, critic
- :mod:`screens.history`, :mod:`screens.compare` — every iteration; two side by side
- :mod:`screens.editor` — PROBLEM.md, PROGRAM.md, analysis.toml; each save a commit
- :mod:`screens.help`, :mod:`screens.dialogs` — keys, reasons, errors
- :mod:`screens.plots` — plotext widgets (one ``PlotextPlot`` each) over :mod:`engine.plots` series
- :mod:`screens.messages` — what the app's thread workers post back; :mod:`screens.format` — shared wording

Screens get their data as arguments and send decisions up as messages; only the app
(:mod:`workbench.app`) calls the engine, and only from thread workers. Screens import
the engine's public API only; the engine never imports them.
"""
