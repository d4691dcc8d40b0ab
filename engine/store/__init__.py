"""The session store: one git repository per session, one commit per iteration.

``git log`` in a session folder tells the story without the app; the ``best`` branch
(``best-design`` for the design loop) always points at the loop's kept line. Start with
:meth:`Session.create` or :meth:`Session.open`; resolve what a user typed with
:func:`find_session` or :func:`latest_session`.

Examples
--------
>>> from engine.problem_load import load_problem
>>> from engine.store import Session
>>> with Session.create(load_problem("problems/ihdp"), "sessions") as session:  # doctest: +SKIP
...     session.record_iteration(record, candidate_source=source, pointwise_elpd=elpd_i)
"""

from engine.store.files import (
    BEST_REFS,
    SessionInfo,
    find_session,
    is_session_dir,
    latest_session,
    list_sessions,
)
from engine.store.gitrepo import HARNESS, LogEntry
from engine.store.lock import lock_holder
from engine.store.messages import PRINCIPAL_FALLBACK, agent_actor, iteration_message, iteration_subject
from engine.store.pending import PendingProposal
from engine.store.session import Session

__all__ = [
    "BEST_REFS",
    "HARNESS",
    "PRINCIPAL_FALLBACK",
    "LogEntry",
    "PendingProposal",
    "Session",
    "SessionInfo",
    "agent_actor",
    "find_session",
    "is_session_dir",
    "iteration_message",
    "iteration_subject",
    "latest_session",
    "list_sessions",
    "lock_holder",
]
