"""A reference model of our own: the warm server and the cache warmer compile it.

It is the baseline the offline agent's model generator renders (the IHDP baseline's shape:
linear mean, one treatment coefficient, Normal likelihood), produced inside ``engine``
because the sandbox sees the ``engine`` package and nothing else of the project: no problem
folder.
"""

from __future__ import annotations


def reference_model_source() -> str:
    """The reference ``model.py`` (identical to ``problems/ihdp/model.py``, which a test checks).

    Returns
    -------
    str
    """
    from engine.agents.modelgen import render_model
    from engine.modelspec import baseline_spec

    return render_model(baseline_spec("continuous"), embed_spec=False)
