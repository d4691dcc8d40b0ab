"""The shell of Causal Workbench: command line, the Textual app, settings and wiring."""
