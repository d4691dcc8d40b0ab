"""Textual screens and widgets of the workbench (review, run, diagnostics, design, history, editor).

Screens import the engine's public API only; the engine never imports them.
"""
