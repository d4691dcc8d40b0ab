"""Help (``?``): the keys of the screen underneath, and the day's workflow in a few lines."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

WORKFLOW = """\
The agent proposes; the harness measures; you decide; git remembers.
One key, one meaning, on every screen.

1. p proposes: the agent's next step (on a review: skip this one and ask
   again). d proposes a design step. m writes the next model.py yourself.
   The guard and the compile check have run before a proposal appears.
2. Review: a approves (sampling starts), r rejects with a reason the agent
   reads, e edits the file before approving, s skips (the idea comes back
   later; only a reject retires it). A blocker finding greys out approve
   until you override it (!) in writing.
3. The run screen shows each chain live; c cancels (recorded as cancelled).
   Escape leaves it running: the header shows its progress on every screen
   and v comes back (or opens the verdict it reached meanwhile).
4. The verdict: tabs 1 verdict, 2 plots, 3 diff (w: what ran or what the
   agent proposed), 4 record; t switches trace and rank plot; y design.
5. h lists every iteration; o opens one; mark two with space, = compares.
6. l edits the plan: PROBLEM.md, PROGRAM.md and analysis.toml; every save
   is a commit by you.
   B lists the batches: the best analysis re-run per level of a column or
   value of a setting on Dask; n starts one, s stops it.
7. x exports the session report; ctrl+p opens the command palette; ctrl+t
   switches between the dark and the light theme; Escape goes back.

Remap keys by binding id in ~/.config/causal-workbench/keymap.toml, e.g.
[keymap]
"review.approve" = "A"
"""


def bindings_table(screen: Screen) -> Table:
    """Every binding active on ``screen`` (its own and the app's), with its id for remapping."""
    table = Table(box=None, padding=(0, 2), header_style="bold")
    table.add_column("key")
    table.add_column("does")
    table.add_column("binding id", style="dim")
    seen = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.id or not binding.description or (binding.action, binding.key) in seen:
            continue
        seen.add((binding.action, binding.key))
        key = screen.app.get_key_display(binding)
        table.add_row(Text(key, style="bold"), binding.tooltip or binding.description, binding.id or "")
    return table


class HelpScreen(Screen[None]):
    """The keys of the screen it was opened over, full screen (a modal would redraw the screen below, dimmed)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close-again"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Causal Workbench — help", classes="dialog-title")
            with VerticalScroll():
                yield Static(bindings_table(self.under), id="help-keys")
                yield Static(WORKFLOW, id="help-workflow", markup=False)
        yield Footer(compact=True)

    def action_close(self) -> None:
        self.dismiss(None)
