"""The causal guard: a corpus of bad proposals, clean variants that must pass, and fuzzing.

Each bad snippet marks the line it expects with ``# <-``; findings on that line must
include the snippet's code. Clean variants must produce no finding at all (false positives
cost the reviewer's attention as much as misses cost correctness).
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.guard import FINDING_CODES, scan_analysis, scan_model
from engine.problem import Contract, Estimand, ForbiddenReason, ForbiddenVariable, OutcomeType
from engine.problem_load import parse_contract
from engine.records import Finding, Severity

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
MARK = "# <-"

IHDP = Contract(
    treatment="treatment",
    outcome="y",
    outcome_type=OutcomeType.CONTINUOUS,
    estimand=Estimand.ATE,
    controls=("bw", "b_head", "preterm", "momage", "sex", "twin", "site1", "site2"),
)
RETENTION = Contract(
    treatment="email",
    outcome="retained",
    outcome_type=OutcomeType.BINARY,
    estimand=Estimand.ATE,
    controls=("tenure", "plan", "past_purchases", "region"),
    categorical=("plan", "region"),
    forbidden=(
        ForbiddenVariable("opened", ForbiddenReason.MEDIATOR, "opened the email"),
        ForbiddenVariable("clicked", ForbiddenReason.MEDIATOR),
        ForbiddenVariable("used_discount", ForbiddenReason.MEDIATOR),
        ForbiddenVariable("support_tickets_after", ForbiddenReason.POST_TREATMENT),
        ForbiddenVariable("revenue_90d", ForbiddenReason.OUTCOME),
        ForbiddenVariable("future_ltv", ForbiddenReason.LEAKAGE, "lifetime value measured a year later"),
        ForbiddenVariable("true_propensity", ForbiddenReason.ORACLE),
        ForbiddenVariable("y0", ForbiddenReason.ORACLE),
        ForbiddenVariable("y1", ForbiddenReason.ORACLE),
    ),
    pretreatment=("prior_visits",),
)

BASE = '''\
"""IHDP-style baseline: linear regression, one constant treatment effect."""

import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
'''

RETENTION_BASE = '''\
"""Retention baseline: logistic regression. Never use opened or clicked: they are mediators."""

import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    rate = data.y.mean()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", np.log(rate / (1 - rate)), 1.5)
        beta_t = pm.Normal("beta_t", 0, 1)
        beta_x = pm.Normal("beta_x", 0, 1, dims="control")
        eta = alpha + beta_t * t + pm.math.dot(X, beta_x)
        mu = pm.Deterministic("mu", pm.math.invlogit(eta), dims="obs")
        pm.Bernoulli("retained", p=mu, observed=data.y, dims="obs")  # not opened: a mediator
    return model
'''


def edit(base: str, old: str, new: str) -> str:
    assert base.count(old) == 1, f"{old!r} must occur exactly once in the base"
    return base.replace(old, new)


def ihdp(old: str, new: str) -> str:
    return edit(BASE, old, new)


def retention(old: str, new: str) -> str:
    return edit(RETENTION_BASE, old, new)


def marked_line(source: str) -> int | None:
    lines = [i for i, line in enumerate(source.splitlines(), start=1) if MARK in line]
    assert len(lines) <= 1, "one marker per snippet"
    return lines[0] if lines else None


MU = '        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")\n'
T_LINE = '        t = pm.Data("t", data.t, dims="obs")\n'
X_LINE = "    X = data.X.to_numpy()\n"
IMPORTS = "import numpy as np\n"
OBSERVED = 'pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")'


def mu_with(term: str) -> str:
    return f'        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + {term}, dims="obs")  {MARK}\n'


# (id, contract, source, expected code); the expected line is the marked one (None: no marker).
BAD: list[tuple[str, Contract, str, str]] = [
    # imports
    ("import-os", IHDP, ihdp(IMPORTS, f"import os  {MARK}\n" + IMPORTS), "process-access"),
    ("subprocess-from", IHDP, ihdp(IMPORTS, f"from subprocess import run  {MARK}\n" + IMPORTS), "process-access"),
    ("socket", IHDP, ihdp(IMPORTS, f"import socket  {MARK}\n" + IMPORTS), "network-access"),
    ("pathlib", IHDP, ihdp(IMPORTS, f"from pathlib import Path  {MARK}\n" + IMPORTS), "file-access"),
    ("pickle", IHDP, ihdp(IMPORTS, f"import pickle  {MARK}\n" + IMPORTS), "dynamic-code"),
    ("importlib", IHDP, ihdp(IMPORTS, f"import importlib  {MARK}\n" + IMPORTS), "dynamic-code"),
    ("scipy-stats", IHDP, ihdp(IMPORTS, f"import scipy.stats  {MARK}\n" + IMPORTS), "import-not-allowed"),
    ("scipy-bare", IHDP, ihdp(IMPORTS, f"import scipy  {MARK}\n" + IMPORTS), "import-not-allowed"),
    (
        "sklearn",
        IHDP,
        ihdp(IMPORTS, f"from sklearn.linear_model import LogisticRegression  {MARK}\n" + IMPORTS),
        "import-not-allowed",
    ),
    ("relative", IHDP, ihdp(IMPORTS, f"from . import helpers  {MARK}\n" + IMPORTS), "import-not-allowed"),
    ("numpy-f2py", IHDP, ihdp(IMPORTS, f"import numpy.f2py  {MARK}\n" + IMPORTS), "process-access"),
    # obsolete APIs
    ("pymc3", IHDP, ihdp("import pymc as pm\n", f"import pymc3 as pm  {MARK}\n"), "obsolete-api"),
    ("theano", IHDP, ihdp(IMPORTS, f"import theano.tensor as tt  {MARK}\n" + IMPORTS), "obsolete-api"),
    ("sampling-jax", IHDP, ihdp(IMPORTS, f"from pymc import sampling_jax  {MARK}\n" + IMPORTS), "obsolete-api"),
    (
        "mutable-data",
        IHDP,
        ihdp(T_LINE, f'        t = pm.MutableData("t", data.t, dims="obs")  {MARK}\n'),
        "obsolete-api",
    ),
    ("constant-data", IHDP, ihdp(X_LINE, f'    X = pm.ConstantData("X", data.X.to_numpy())  {MARK}\n'), "obsolete-api"),
    (
        "mutable-kwarg",
        IHDP,
        ihdp(T_LINE, f'        t = pm.Data("t", data.t, mutable=True, dims="obs")  {MARK}\n'),
        "obsolete-api",
    ),
    (
        "sd-kwarg",
        IHDP,
        ihdp('pm.HalfNormal("sigma", y_scale)', f'pm.HalfNormal("sigma", sd=y_scale)  {MARK}'),
        "obsolete-api",
    ),
    (
        "testval",
        IHDP,
        ihdp('pm.Normal("beta_t", 0, y_scale)', f'pm.Normal("beta_t", 0, y_scale, testval=0.0)  {MARK}'),
        "obsolete-api",
    ),
    (
        "bound",
        IHDP,
        ihdp('pm.HalfNormal("sigma", y_scale)', f'pm.Bound(pm.Normal, lower=0)("sigma", 0, y_scale)  {MARK}'),
        "obsolete-api",
    ),
    # files, network, processes, dynamic code, dunders
    ("open", IHDP, ihdp(X_LINE, X_LINE + f'    secret = open("/etc/passwd").read()  {MARK}\n'), "file-access"),
    ("read-csv", IHDP, ihdp(X_LINE, f'    X = __import__("pandas").read_csv("data.csv")  {MARK}\n'), "dynamic-code"),
    (
        "pd-read-csv",
        IHDP,
        ihdp(X_LINE, f'    X = pd.read_csv("../data.csv").to_numpy()  {MARK}\n').replace(
            IMPORTS, IMPORTS + "import pandas as pd\n"
        ),
        "file-access",
    ),
    ("np-load", IHDP, ihdp(X_LINE, f'    X = np.load("X.npy")  {MARK}\n'), "file-access"),
    ("to-csv", IHDP, ihdp(X_LINE, X_LINE + f'    data.X.to_csv("/tmp/leak.csv")  {MARK}\n'), "file-access"),
    ("eval", IHDP, ihdp(X_LINE, X_LINE + f'    k = eval("1 + 1")  {MARK}\n'), "dynamic-code"),
    ("exec", IHDP, ihdp(X_LINE, X_LINE + f'    exec("import os")  {MARK}\n'), "dynamic-code"),
    ("compile", IHDP, ihdp(X_LINE, X_LINE + f'    code = compile("1", "f", "eval")  {MARK}\n'), "dynamic-code"),
    ("dunder-import", IHDP, ihdp(X_LINE, X_LINE + f'    os_ = __import__("os")  {MARK}\n'), "dynamic-code"),
    ("globals", IHDP, ihdp(X_LINE, X_LINE + f"    g = globals()  {MARK}\n"), "dynamic-code"),
    ("vars", IHDP, ihdp(X_LINE, X_LINE + f"    v = vars(data)  {MARK}\n"), "dynamic-code"),
    ("pd-eval", IHDP, ihdp(X_LINE, X_LINE + f'    v = data.X.eval("bw + 1")  {MARK}\n'), "dynamic-code"),
    (
        "subclasses",
        IHDP,
        ihdp(X_LINE, X_LINE + f"    k = ().__class__.__bases__[0].__subclasses__()  {MARK}\n"),
        "dunder-access",
    ),
    ("getattr-dunder", IHDP, ihdp(X_LINE, X_LINE + f'    d = getattr(data, "__dict__")  {MARK}\n'), "dunder-access"),
    (
        "getattr-computed",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    d = getattr(data, "_" + "_dict__")  {MARK}\n'),
        "dunder-access",
    ),
    ("builtins-name", IHDP, ihdp(X_LINE, X_LINE + f"    b = __builtins__  {MARK}\n"), "dunder-access"),
    (
        "finalizer",
        IHDP,
        ihdp(IMPORTS, IMPORTS + f"\n\nclass Later:\n    def __del__(self):  {MARK}\n        pass\n"),
        "dunder-access",
    ),
    (
        "format-escape",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    s = "{{0.__globals__}}".format(build_model)  {MARK}\n'),
        "dunder-access",
    ),
    ("os-via-module", IHDP, ihdp(X_LINE, X_LINE + f'    pm.data.os.system("ls")  {MARK}\n'), "process-access"),
    ("url", IHDP, ihdp(X_LINE, X_LINE + f'    src = "https://example.com/ihdp.csv"  {MARK}\n'), "network-access"),
    ("input", IHDP, ihdp(X_LINE, X_LINE + f"    k = input()  {MARK}\n"), "process-access"),
    (
        "frame-internals",
        IHDP,
        ihdp(X_LINE, X_LINE + f"    g = (i for i in [1]).gi_frame.f_back  {MARK}\n"),
        "dunder-access",
    ),
    (
        "graphviz-render",
        IHDP,
        ihdp("    return model\n", f'    pm.model_to_graphviz(model).render("graph")  {MARK}\n    return model\n'),
        "file-access",
    ),
    # indirection the guard cannot follow (issue 10: the escapes went through these)
    (
        "getattr-sys",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    env = getattr(pm.stats, "sys").modules["os"].environ  {MARK}\n'),
        "obfuscated-access",
    ),
    (
        "getattr-builtins",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    b = getattr(np, "builtins")  {MARK}\n'),
        "obfuscated-access",
    ),
    (
        "sys-modules",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    pandas = pm.stats.sys.modules["pandas"]  {MARK}\n'),
        "obfuscated-access",
    ),
    (
        "modules-of-local",
        IHDP,
        ihdp(X_LINE, X_LINE + "    s = pm.stats\n" + f'    pandas = s.modules["pandas"]  {MARK}\n'),
        "obfuscated-access",
    ),
    (
        "getattr-built-name",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    s = getattr(pm, "st" + "ats")  {MARK}\n'),
        "obfuscated-access",
    ),
    ("import-built-name", IHDP, ihdp(X_LINE, X_LINE + f'    o = __import__("o" + "s")  {MARK}\n'), "obfuscated-access"),
    (
        "chr-map",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    name = "".join(map(chr, (115, 121, 115)))  {MARK}\n'),
        "obfuscated-access",
    ),
    ("chr-concat", IHDP, ihdp(X_LINE, X_LINE + f"    name = chr(111) + chr(115)  {MARK}\n"), "obfuscated-access"),
    (
        "hex-text",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    code = bytes.fromhex("7072696e74283129").decode()  {MARK}\n'),
        "obfuscated-access",
    ),
    (
        "bytes-text",
        IHDP,
        ihdp(X_LINE, X_LINE + f"    name = bytes([111, 115]).decode()  {MARK}\n"),
        "obfuscated-access",
    ),
    ("rot13-text", IHDP, ihdp(X_LINE, X_LINE + f'    name = "bf".encode("rot13")  {MARK}\n'), "obfuscated-access"),
    (
        "import-module",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    scoring = loader.import_module("engine.scoring")  {MARK}\n'),
        "dynamic-code",
    ),
    ("ndarray-dump", IHDP, ihdp(X_LINE, X_LINE + f'    X.dump("X.pkl")  {MARK}\n'), "file-access"),
    ("pm-stats-az", IHDP, ihdp(X_LINE, X_LINE + f"    loo = pm.stats.az.loo  {MARK}\n"), "harness-overreach"),
    # monkeypatching: assignments that change what the harness runs in the same process
    (
        "patch-arviz-loo",
        IHDP,
        ihdp("    return model\n", f"    pm.stats.az.loo = len  {MARK}\n    return model\n"),
        "monkeypatch",
    ),
    ("patch-numpy", IHDP, ihdp(X_LINE, X_LINE + f"    np.var = np.std  {MARK}\n"), "monkeypatch"),
    ("patch-pymc-logp", IHDP, ihdp(X_LINE, X_LINE + f"    pm.logp = lambda rv, value: 0.0  {MARK}\n"), "monkeypatch"),
    ("patch-class", IHDP, ihdp(X_LINE, X_LINE + f"    pm.Model.logp = None  {MARK}\n"), "monkeypatch"),
    ("patch-augassign", IHDP, ihdp(X_LINE, X_LINE + f"    np.pi += 1  {MARK}\n"), "monkeypatch"),
    ("patch-delete", IHDP, ihdp(X_LINE, X_LINE + f"    del pm.math.dot  {MARK}\n"), "monkeypatch"),
    (
        "patch-handle",
        IHDP,
        ihdp(X_LINE, X_LINE + "    arviz_ = pm.stats.az\n" + f"    arviz_.loo = len  {MARK}\n"),
        "monkeypatch",
    ),
    ("patch-setattr", IHDP, ihdp(X_LINE, X_LINE + f'    setattr(np, "var", np.std)  {MARK}\n'), "monkeypatch"),
    (
        "patch-getattr-handle",
        IHDP,
        ihdp(
            X_LINE,
            X_LINE
            + '    scoring = getattr(pm.stats, "sys").modules["engine.scoring"]\n'
            + f"    scoring.decide = len  {MARK}\n",
        ),
        "monkeypatch",
    ),
    (
        "patch-sys-modules-entry",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    pm.stats.sys.modules["arviz"] = np  {MARK}\n'),
        "monkeypatch",
    ),
    (
        "patch-pytensor-config",
        IHDP,
        ihdp(X_LINE, X_LINE + f'    pytensor.config.floatX = "float32"  {MARK}\n').replace(
            IMPORTS, IMPORTS + "import pytensor\n"
        ),
        "monkeypatch",
    ),
    # forbidden columns (retention contract)
    (
        "forbidden-list",
        RETENTION,
        retention(X_LINE, f'    X = data.X[["tenure", "opened"]].to_numpy()  {MARK}\n'),
        "forbidden-column",
    ),
    ("forbidden-attr", RETENTION, retention(X_LINE, X_LINE + f"    o = data.X.clicked  {MARK}\n"), "forbidden-column"),
    (
        "forbidden-literal",
        RETENTION,
        retention(X_LINE, X_LINE + f'    extra = ["past_purchases", "future_ltv"]  {MARK}\n'),
        "forbidden-column",
    ),
    (
        "forbidden-oracle",
        RETENTION,
        retention(X_LINE, X_LINE + f'    e = data.X["true_propensity"]  {MARK}\n'),
        "forbidden-column",
    ),
    (
        "forbidden-fstring",
        RETENTION,
        retention(X_LINE, X_LINE + f'    c = data.X[f"used_discount"]  {MARK}\n'),
        "forbidden-column",
    ),
    (
        "forbidden-query",
        RETENTION,
        retention(X_LINE, f'    X = data.X.query("opened == 1").to_numpy()  {MARK}\n'),
        "outcome-filter",
    ),
    (
        "forbidden-mask",
        RETENTION,
        retention(X_LINE, f'    X = data.X[data.X["opened"] == 1].to_numpy()  {MARK}\n'),
        "outcome-filter",
    ),
    (
        "forbidden-mask-name",
        RETENTION,
        retention(
            X_LINE, '    keep = data.X["support_tickets_after"] > 0\n' + f"    X = data.X[keep].to_numpy()  {MARK}\n"
        ),
        "outcome-filter",
    ),
    # the outcome as a predictor
    ("outcome-in-mu", IHDP, ihdp(MU, mu_with("0.1 * data.y")), "outcome-as-predictor"),
    (
        "outcome-alias",
        IHDP,
        ihdp(MU, mu_with("0.1 * y_lag")).replace(X_LINE, X_LINE + "    y_lag = np.asarray(data.y)\n"),
        "outcome-as-predictor",
    ),
    (
        "outcome-stacked",
        IHDP,
        ihdp(X_LINE, "    X = np.column_stack([data.X.to_numpy(), data.y])\n").replace(
            MU, MU.rstrip("\n") + f"  {MARK}\n"
        ),
        "outcome-as-predictor",
    ),
    (
        "outcome-container",
        IHDP,
        ihdp(MU, '        y_data = pm.Data("y_data", data.y)\n' + mu_with("0.1 * y_data")),
        "outcome-as-predictor",
    ),
    (
        "outcome-by-name",
        RETENTION,
        retention(
            "        eta = alpha",
            f'        eta = 2.0 * data.X["retained"].to_numpy() + alpha  {MARK}\n        eta = eta',
        ),
        "outcome-as-predictor",
    ),
    (
        "outcome-in-prior-loc",
        IHDP,
        ihdp('pm.Normal("alpha", y_loc, 2 * y_scale)', f'pm.Normal("alpha", data.y, 2 * y_scale)  {MARK}'),
        "outcome-as-predictor",
    ),
    ("outcome-getattr", IHDP, ihdp(MU, mu_with('getattr(data, "y")')), "outcome-as-predictor"),
    # selection on the outcome
    ("outcome-mask", IHDP, ihdp(X_LINE, f"    X = data.X.to_numpy()[data.y > 0]  {MARK}\n"), "outcome-filter"),
    (
        "outcome-mask-name",
        IHDP,
        ihdp(X_LINE, X_LINE + "    keep = data.y > 0\n" + f"    X = X[keep]  {MARK}\n"),
        "outcome-filter",
    ),
    ("outcome-where", IHDP, ihdp(X_LINE, X_LINE + f"    rows = np.where(data.y > 0)  {MARK}\n"), "outcome-filter"),
    ("outcome-query", IHDP, ihdp(X_LINE, f'    X = data.X.query("y > 0").to_numpy()  {MARK}\n'), "outcome-filter"),
    ("outcome-loc", IHDP, ihdp(X_LINE, f"    X = data.X.loc[data.y > 0].to_numpy()  {MARK}\n"), "outcome-filter"),
    (
        "outcome-observed-mask",
        IHDP,
        ihdp(OBSERVED, f'pm.Normal("y", mu=mu, sigma=sigma, observed=data.y[data.y < 100])  {MARK}'),
        "outcome-filter",
    ),
    # row filters (warnings)
    ("head", IHDP, ihdp(X_LINE, f"    X = data.X.head(500).to_numpy()  {MARK}\n"), "row-filter"),
    ("sample-rows", IHDP, ihdp(X_LINE, f"    X = data.X.sample(frac=0.5).to_numpy()  {MARK}\n"), "row-filter"),
    ("iloc", IHDP, ihdp(X_LINE, f"    X = data.X.iloc[:200].to_numpy()  {MARK}\n"), "row-filter"),
    ("array-slice", IHDP, ihdp(X_LINE, f"    X = data.X.to_numpy()[:500]  {MARK}\n"), "row-filter"),
    ("t-slice", IHDP, ihdp(T_LINE, f'        t = pm.Data("t", data.t[:500], dims="obs")  {MARK}\n'), "row-filter"),
    ("arm-subset", IHDP, ihdp(X_LINE, X_LINE + f"    X_treated = data.X[data.t == 1]  {MARK}\n"), "row-filter"),
    ("dropna", IHDP, ihdp(X_LINE, f"    X = data.X.dropna().to_numpy()  {MARK}\n"), "row-filter"),
    # the model contract
    ("no-build-model", IHDP, ihdp("def build_model(data):", "def make_model(data):"), "missing-build-model"),
    ("no-data-arg", IHDP, ihdp("def build_model(data):", f"def build_model():  {MARK}"), "build-model-signature"),
    (
        "no-t",
        IHDP,
        ihdp(T_LINE, '        t = pm.Data("treat", data.t, dims="obs")\n').replace(
            "def build_model(data):", f"def build_model(data):  {MARK}"
        ),
        "missing-t",
    ),
    (
        "no-mu",
        IHDP,
        ihdp(MU, "        mu = alpha + beta_t * t + pm.math.dot(X, beta_x)\n").replace(
            "def build_model(data):", f"def build_model(data):  {MARK}"
        ),
        "missing-mu",
    ),
    (
        "t-from-ones",
        IHDP,
        ihdp(T_LINE, f'        t = pm.Data("t", np.ones(data.n), dims="obs")  {MARK}\n'),
        "t-container-source",
    ),
    (
        "t-from-control",
        IHDP,
        ihdp(T_LINE, f'        t = pm.Data("t", data.X["sex"].to_numpy(), dims="obs")  {MARK}\n'),
        "t-container-source",
    ),
    (
        "data-t-in-mu",
        IHDP,
        ihdp(MU, MU.replace("beta_t * t", "beta_t * data.t").rstrip("\n") + f"  {MARK}\n"),
        "treatment-not-container",
    ),
    (
        "t-copy-in-mu",
        IHDP,
        ihdp(MU, MU.replace("beta_t * t", "beta_t * treated").rstrip("\n") + f"  {MARK}\n").replace(
            X_LINE, X_LINE + "    treated = data.t.astype(float)\n"
        ),
        "treatment-not-container",
    ),
    (
        "arm-index-in-mu",
        IHDP,
        ihdp(
            MU,
            '        a_arm = pm.Normal("a_arm", y_loc, y_scale, shape=2)\n'
            f'        mu = pm.Deterministic("mu", a_arm[arm] + beta_t * t + pm.math.dot(X, beta_x), dims="obs")  {MARK}\n',
        ).replace(X_LINE, X_LINE + "    arm = data.t.astype(int)\n"),
        "treatment-not-container",
    ),
    (
        "t-read-back-in-mu",
        IHDP,
        ihdp(MU, MU.replace("beta_t * t", "beta_t * frozen").rstrip("\n") + f"  {MARK}\n").replace(
            T_LINE, T_LINE + "        frozen = t.get_value().copy()\n"
        ),
        "treatment-not-container",
    ),
    (
        "t-read-back-borrowed-in-mu",  # red team, round 11: get_value(True) read back as well
        IHDP,
        ihdp(MU, MU.replace("beta_t * t", "beta_t * frozen").rstrip("\n") + f"  {MARK}\n").replace(
            T_LINE, T_LINE + "        frozen = t.get_value(True).copy()\n"
        ),
        "treatment-not-container",
    ),
    (
        "t-read-back-keyword-in-mu",
        IHDP,
        ihdp(MU, MU.replace("beta_t * t", "beta_t * frozen").rstrip("\n") + f"  {MARK}\n").replace(
            T_LINE, T_LINE + "        frozen = t.get_value(borrow=False).copy()\n"
        ),
        "treatment-not-container",
    ),
    ("mu-ignores-t", IHDP, ihdp(MU, MU.replace("beta_t * t + ", "").rstrip("\n") + f"  {MARK}\n"), "mu-ignores-t"),
    # the harness's job
    (
        "pm-sample",
        IHDP,
        ihdp("    return model\n", f"        idata = pm.sample()  {MARK}\n    return model\n"),
        "harness-overreach",
    ),
    ("nutpie", IHDP, ihdp(IMPORTS, f"import nutpie  {MARK}\n" + IMPORTS), "harness-overreach"),
    ("arviz", IHDP, ihdp(IMPORTS, f"import arviz as az  {MARK}\n" + IMPORTS), "harness-overreach"),
    (
        "pm-do",
        IHDP,
        ihdp(
            "    return model\n",
            f'    treated_model = pm.do(model, {{"t": np.ones(data.n)}})  {MARK}\n    return model\n',
        ),
        "harness-overreach",
    ),
    (
        "ppc",
        IHDP,
        ihdp("    return model\n", f"        pp = pm.sample_posterior_predictive(None)  {MARK}\n    return model\n"),
        "harness-overreach",
    ),
    (
        "ate-deterministic",
        IHDP,
        ihdp("    return model\n", f'        pm.Deterministic("ate", beta_t)  {MARK}\n    return model\n'),
        "harness-overreach",
    ),
    (
        "star-import-sample",
        IHDP,
        ihdp("import pymc as pm\n", "import pymc as pm\nfrom pymc import *\n").replace(
            "    return model\n", f"        trace = sample()  {MARK}\n    return model\n"
        ),
        "harness-overreach",
    ),
    (
        "set-data",
        IHDP,
        ihdp("    return model\n", f'        model.set_data("t", np.ones(data.n))  {MARK}\n    return model\n'),
        "harness-overreach",
    ),
    # loops
    ("while-true", IHDP, ihdp(X_LINE, X_LINE + f"    while True:  {MARK}\n        pass\n"), "unbounded-loop"),
    (
        "per-row-loop",
        IHDP,
        ihdp(
            "    return model\n",
            f"        for i in range(data.n):  {MARK}\n            pm.Normal(f'z{{i}}', 0, 1)\n    return model\n",
        ),
        "unbounded-loop",
    ),
    (
        "iterrows",
        IHDP,
        ihdp(X_LINE, X_LINE + f"    for i, row in data.X.iterrows():  {MARK}\n        pass\n"),
        "unbounded-loop",
    ),
    # syntax
    ("syntax", IHDP, ihdp(X_LINE, f"    X = data.X.to_numpy(  {MARK}\n"), "syntax-error"),
]

# Sources that must produce no finding at all.
CLEAN: list[tuple[str, Contract, str]] = [
    ("ihdp-base", IHDP, BASE),
    ("retention-base", RETENTION, RETENTION_BASE),
    (
        "np-summaries",
        IHDP,
        ihdp(
            "    y_loc, y_scale = data.y.mean(), data.y.std()\n",
            "    y_loc, y_scale = np.median(data.y), np.std(data.y)\n    hi = np.quantile(data.y, 0.9) + len(data.y) + data.y.shape[0]\n",
        ),
    ),
    (
        "arm-mean-prior",
        IHDP,
        ihdp(
            "    y_loc, y_scale = data.y.mean(), data.y.std()\n",
            "    y_loc, y_scale = np.mean(data.y[data.t == 0]), data.y[data.t == 1].std()\n",
        ),
    ),
    (
        "y-alias-observed",
        IHDP,
        ihdp(OBSERVED, 'pm.Normal("y", mu=mu, sigma=sigma, observed=y, dims="obs")').replace(
            X_LINE, X_LINE + "    y = data.y\n"
        ),
    ),
    (
        "y-standardised",
        IHDP,
        ihdp(OBSERVED, 'pm.Normal("y", mu=(mu - y_loc) / y_scale, sigma=sigma, observed=y_std)').replace(
            X_LINE, X_LINE + "    y_std = (data.y - data.y.mean()) / data.y.std()\n"
        ),
    ),
    # local objects, labels and constant getattr are not monkeypatches or obfuscation
    (
        "model-attribute",
        IHDP,
        ihdp(
            "    return model\n", '    model.name = "ihdp baseline"\n    sigma.tag.note = "scale"\n    return model\n'
        ),
    ),
    (
        "coords-item",
        IHDP,
        ihdp(X_LINE, X_LINE + '    extra = {"obs": np.arange(data.n)}\n    extra["arm"] = ["control", "treated"]\n'),
    ),
    ("chr-labels", IHDP, ihdp(X_LINE, X_LINE + "    labels = [chr(97 + i) for i in range(3)]\n")),
    ("getattr-data", IHDP, ihdp(X_LINE, '    X = getattr(data, "X").to_numpy()\n')),
    ("join-names", IHDP, ihdp(X_LINE, X_LINE + '    title = ", ".join(data.X.columns)\n')),
    (
        "y-container",
        IHDP,
        ihdp(
            OBSERVED,
            'y_obs = pm.Data("y_obs", data.y, dims="obs")\n        pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs)',
        ),
    ),
    (
        "y-as-tensor",
        IHDP,
        ihdp(OBSERVED, 'pm.Normal("y", mu=mu, sigma=sigma, observed=pt.as_tensor_variable(data.y))').replace(
            IMPORTS, IMPORTS + "import pytensor.tensor as pt\n"
        ),
    ),
    ("arange-len", IHDP, ihdp("np.arange(data.n)", "np.arange(len(data.y))")),
    (
        "column-selection",
        IHDP,
        ihdp(
            X_LINE,
            '    X = data.X[["bw", "momage"]].to_numpy()\n    bw = data.X["bw"].to_numpy()\n    first = X[:, 0]\n    Xc = data.X_continuous[:, :3]\n',
        ),
    ),
    (
        "spline",
        IHDP,
        ihdp(
            X_LINE,
            X_LINE
            + '    B = data.spline_basis("bw", n_basis=6)\n    b0 = B[:, 0]\n    B2 = np.column_stack([B, data.spline_basis("momage")])\n',
        ),
    ),
    (
        "from-imports",
        IHDP,
        (
            "from __future__ import annotations\n\n"
            + ihdp("import pymc as pm\n", "import pymc as pm\nfrom pymc import Data, Deterministic\nimport math\n")
        )
        .replace(T_LINE, '        t = Data("t", data.t, dims="obs")\n')
        .replace('pm.Deterministic("mu"', 'Deterministic("mu"'),
    ),
    (
        "per-arm",
        IHDP,
        ihdp(
            MU,
            '        mu0 = alpha + pm.math.dot(X, beta_x)\n        mu = pm.Deterministic("mu", mu0 + beta_t * t, dims="obs")\n',
        ).replace(
            'sigma = pm.HalfNormal("sigma", y_scale)',
            'sigma_arm = pm.HalfNormal("sigma_arm", y_scale, shape=2)\n        sigma = pm.math.switch(t > 0.5, sigma_arm[1], sigma_arm[0])',
        ),
    ),
    (
        "column-loop",
        IHDP,
        ihdp(
            X_LINE,
            X_LINE + "    for name in data.continuous:\n        pass\n    for j in range(X.shape[1]):\n        pass\n",
        ),
    ),
    (
        "hierarchical-index",
        IHDP,
        ihdp(X_LINE, X_LINE + '    site = np.argmax(data.X[["site1", "site2"]].to_numpy(), axis=1)\n').replace(
            MU,
            '        a_site = pm.Normal("a_site", 0, 1, shape=2)\n' + MU.replace("alpha +", "alpha + a_site[site] +"),
        ),
    ),
    (
        "ate-named-coefficient",
        IHDP,
        ihdp('beta_t = pm.Normal("beta_t"', 'ate = pm.Normal("ate"').replace("beta_t * t", "ate * t"),
    ),
    ("main-guard", IHDP, BASE + '\n\nif __name__ == "__main__":\n    print(build_model)\n'),
    (
        "propensity-submodel",
        IHDP,
        ihdp(OBSERVED, OBSERVED + '\n        pm.Bernoulli("t_obs", logit_p=pm.math.dot(X, beta_x), observed=data.t)'),
    ),
    ("t-astype", IHDP, ihdp(T_LINE, '        t = pm.Data("t", data.t.astype(float), dims="obs")\n')),
    ("version-check", IHDP, ihdp(X_LINE, X_LINE + '    assert pm.__version__ >= "5"\n')),
    (
        "retention-custom-names",
        RETENTION,
        retention(
            "    rate = data.y.mean()\n",
            '    rate = np.clip(np.mean(data.y), 0.01, 0.99)\n    tenure = data.X["tenure"].to_numpy()\n',
        ),
    ),
]


# Model families the agent's catalogue reaches (FIELD-NOTES.md): they must pass untouched.
PER_ARM_MODEL = """\
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    Xc = data.X_continuous
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns), "arm": [0, 1], "cont": list(data.continuous)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale, dims="arm")
        beta = pm.Normal("beta", 0, y_scale, dims=("arm", "control"))
        gamma = pm.Normal("gamma", 0, y_scale, dims=("arm", "cont"))
        mu0 = alpha[0] + pm.math.dot(X, beta[0]) + pm.math.dot(Xc**2, gamma[0])
        mu1 = alpha[1] + pm.math.dot(X, beta[1]) + pm.math.dot(Xc**2, gamma[1])
        mu = pm.Deterministic("mu", t * mu1 + (1 - t) * mu0, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale, dims="arm")
        arm = data.t.astype("int64")
        pm.Normal("y", mu=mu, sigma=sigma[arm], observed=data.y, dims="obs")
    return model
"""

SPLINES_MODEL = """\
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def _basis(data):
    return np.column_stack([data.spline_basis(name, n_basis=6) for name in data.continuous])


def build_model(data):
    B = _basis(data)
    Xb = data.X_binary
    y_loc = float(np.mean(data.y))
    y_scale = float(np.std(data.y))
    coords = {"obs": np.arange(data.n), "basis": np.arange(B.shape[1]), "bin": list(data.binary)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        a0 = pm.Normal("a0", y_loc, y_scale)
        tau = pm.Normal("tau", 0, y_scale)
        w0 = pm.Normal("w0", 0, y_scale, dims="basis")
        w1 = pm.Normal("w1", 0, y_scale, dims="basis")
        b = pm.Normal("b", 0, y_scale, dims="bin")
        f0 = pt.dot(B, w0)
        f1 = pt.dot(B, w1)
        mu = pm.Deterministic("mu", a0 + pt.dot(Xb, b) + pm.math.switch(pt.eq(t, 1), tau + f1, f0), dims="obs")
        nu = pm.Gamma("nu", 2, 0.1)
        sigma = pm.HalfNormal("sigma", y_scale, shape=2)
        pm.StudentT("y", nu=nu, mu=mu, sigma=sigma[0] * (1 - t) + sigma[1] * t, observed=data.y, dims="obs")
    return model
"""

EXP_CONTROL_MODEL = """\
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_obs = data.y.astype(float)
    n_treated = int(data.t.sum())
    p_treated = data.t.mean()
    y_max = data.y.max() - data.y.min()
    with pm.Model(coords={"obs": np.arange(len(data.y)), "control": list(data.X.columns)}) as model:
        t = pm.Data("t", data.t, dims="obs")
        b0 = pm.Normal("b0", 0, 0.5, dims="control")
        c0 = pm.Normal("c0", 0, 1)
        lin0 = c0 + pm.math.dot(X, b0)
        effect = pm.Normal("effect", 0, y_max)
        mu = pm.Deterministic("mu", pm.math.exp(lin0) + effect * t, dims="obs")
        sigma = pm.HalfNormal("sigma", np.std(data.y))
        pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs, dims="obs")
    return model
"""

BINARY_MODEL = """\
import numpy as np
import pymc as pm
from scipy.special import logit


def build_model(data):
    X = data.X.to_numpy()
    prevalence = np.clip(data.y.mean(), 0.01, 0.99)
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        intercept = pm.Normal("intercept", logit(prevalence), 1.0)
        slope_t = pm.Normal("slope_t", 0, 1.0)
        slopes = pm.Normal("slopes", 0, 1.0, dims="control")
        mu = pm.Deterministic("mu", pm.math.invlogit(intercept + slope_t * t + X @ slopes), dims="obs")
        pm.Bernoulli("retained", p=mu, observed=data.y.astype("int64"), dims="obs")
    return model
"""

BAD += [
    (
        "trojan-source-override",  # CVE-2021-42574: the screen shows "+ 0" where Python adds 5 * t
        IHDP,
        ihdp(MU, MU.rstrip("\n") + f"  # \u202e t * 5 + {MARK}\n"),
        "unshowable-character",
    ),
    (
        "zero-width-space",
        IHDP,
        ihdp(MU, MU.replace('"mu"', '"mu\u200b"').rstrip("\n") + f"  {MARK}\n"),
        "unshowable-character",
    ),
]

CLEAN += [
    ("per-arm-model", IHDP, PER_ARM_MODEL),
    ("spline-student-t-model", IHDP, SPLINES_MODEL),
    ("exp-control-model", IHDP, EXP_CONTROL_MODEL),
    ("binary-model", RETENTION, BINARY_MODEL),
]


def codes_at(findings: list[Finding], line: int | None) -> set[str]:
    return {f.code for f in findings if f.line == line}


def test_corpus_is_large_and_every_code_is_exercised() -> None:
    assert len(BAD) >= 25
    exercised = {code for *_, code in BAD} | {code for *_, code in BAD_SPECS}
    # guard-error is exercised by test_a_failing_rule_becomes_a_guard_error_and_the_others_still_run
    assert set(FINDING_CODES) - {"guard-error"} == exercised


@pytest.mark.parametrize(("name", "contract", "source", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_snippet_raises_its_finding(name: str, contract: Contract, source: str, code: str) -> None:
    findings = scan_model(source, contract)
    line = marked_line(source)
    assert code in codes_at(findings, line), f"{name}: expected {code} at line {line}, got {[str(f) for f in findings]}"
    hit = next(f for f in findings if f.code == code and f.line == line)
    assert hit.severity is FINDING_CODES[code][0]
    assert len(hit.message) > 30


@pytest.mark.parametrize(("name", "contract", "source"), CLEAN, ids=[c[0] for c in CLEAN])
def test_clean_variant_is_not_flagged(name: str, contract: Contract, source: str) -> None:
    assert scan_model(source, contract) == [], name


def test_forbidden_message_names_column_reason_and_fix() -> None:
    source = retention(X_LINE, '    X = data.X[["tenure", "future_ltv", "opened"]].to_numpy()\n')
    (hit,) = [f for f in scan_model(source, RETENTION) if f.code == "forbidden-column"]
    assert "future_ltv" in hit.message and "leakage" in hit.message
    assert "opened" in hit.message and "mediator" in hit.message
    assert "remove" in hit.message
    assert hit.severity is Severity.BLOCKER


def test_docstrings_and_comments_may_name_forbidden_columns() -> None:
    assert scan_model(RETENTION_BASE, RETENTION) == []


def test_outcome_alias_message_points_to_its_origin() -> None:
    source = ihdp(MU, mu_with("y_lag")).replace(X_LINE, X_LINE + "    y_lag = data.y * 1.0  # origin\n")
    origin = next(i for i, line in enumerate(source.splitlines(), start=1) if "# origin" in line)
    (hit,) = [f for f in scan_model(source, IHDP) if f.code == "outcome-as-predictor"]
    assert hit.line == marked_line(source)
    assert "'y_lag'" in hit.message and f"line {origin}" in hit.message


def test_findings_are_sorted_and_unique() -> None:
    source = "import os\nimport os\nimport sys, subprocess\neval('1'); eval('2')\n"
    findings = scan_model(source, IHDP)
    keys = [(f.line or 0, f.code) for f in findings]
    assert keys == sorted(keys)
    assert len({(f.code, f.line) for f in findings}) == len(findings)
    assert [f.line for f in findings if f.code == "dynamic-code"] == [4]


def test_syntax_error_is_a_finding_with_its_line() -> None:
    (hit,) = scan_model("import pymc as pm\n\ndef build_model(data)\n    return 1\n", IHDP)
    assert hit.code == "syntax-error" and hit.line == 3 and hit.severity is Severity.BLOCKER


def test_deeply_nested_source_is_a_syntax_error_not_a_crash() -> None:
    findings = scan_model("x = " + "1 + " * 100_000 + "1\n", IHDP)
    assert [f.code for f in findings] == ["syntax-error"]


def test_deep_expression_is_scanned() -> None:
    source = ihdp(MU, mu_with(" + ".join(["data.y"] * 1500)))
    assert "outcome-as-predictor" in codes_at(scan_model(source, IHDP), marked_line(source))


def test_a_failing_rule_becomes_a_guard_error_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.guard.model as model_scan

    def broken(scan: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(model_scan, "RULES", (broken, *model_scan.RULES))
    findings = scan_model(ihdp(IMPORTS, "import os\n" + IMPORTS), IHDP)
    assert {f.code for f in findings} == {"guard-error", "process-access"}
    assert "boom" in next(f.message for f in findings if f.code == "guard-error")


def test_every_code_is_kebab_case_and_described() -> None:
    import re

    for code, (severity, description) in FINDING_CODES.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code) and isinstance(severity, Severity) and description


def test_empty_source_misses_everything() -> None:
    assert {f.code for f in scan_model("", IHDP)} == {"missing-build-model", "missing-t", "missing-mu"}


def test_guard_does_not_import_pymc() -> None:
    import subprocess
    import sys

    code = "import engine.guard, sys; sys.exit('pymc' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# --------------------------------------------------------------------------- shipped problems


def shipped(filename: str) -> list[Path]:
    return sorted(p for p in PROBLEMS.glob(f"*/{filename}") if (p.parent / "problem.toml").is_file())


def contract_of(folder: Path) -> Contract:
    issues: list[str] = []
    raw = tomllib.loads((folder / "problem.toml").read_text(encoding="utf-8"))
    contract = parse_contract(raw.get("contract", {}), issues)
    if contract is None or issues:
        pytest.skip(f"{folder.name}: contract not valid yet: {issues}")
    return contract


@pytest.mark.parametrize("path", shipped("model.py"), ids=lambda p: p.parent.name)
def test_shipped_models_are_clean(path: Path) -> None:
    findings = scan_model(path.read_text(encoding="utf-8"), contract_of(path.parent))
    assert findings == [], [str(f) for f in findings]


@pytest.mark.parametrize("path", shipped("analysis.toml"), ids=lambda p: p.parent.name)
def test_shipped_analyses_are_clean(path: Path) -> None:
    findings = scan_analysis(path.read_text(encoding="utf-8"), contract_of(path.parent))
    assert findings == [], [str(f) for f in findings]


# --------------------------------------------------------------------------- analysis.toml

SPEC = """\
# a design-based analysis
estimand = "ATE"
covariates = "all"
propensity_learner = "logistic"
outcome_learner = "gradient_boosting"
estimator = "linear_dr"
folds = 5
trim = [0.0, 1.0]
placebo_outcomes = []
seed = 0
"""


def spec(old: str, new: str) -> str:
    return edit(SPEC, old, new)


BAD_SPECS: list[tuple[str, Contract, str, str]] = [
    ("toml-syntax", RETENTION, spec("folds = 5\n", f"folds = = 5  {MARK}\n"), "syntax-error"),
    # tomllib reports an unclosed list where the next value fails to parse: the line after it
    (
        "toml-unclosed",
        RETENTION,
        spec(
            'covariates = "all"\npropensity_learner = "logistic"\n',
            f'covariates = ["tenure",\npropensity_learner = "logistic"  {MARK}\n',
        ),
        "syntax-error",
    ),
    (
        "forbidden-covariate",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = ["tenure", "opened"]  {MARK}\n'),
        "forbidden-column",
    ),
    (
        "forbidden-elsewhere",
        RETENTION,
        spec("seed = 0\n", f'seed = 0\nnote = "adjust for future_ltv"  {MARK}\n'),
        "forbidden-column",
    ),
    (
        "forbidden-multiline",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = [\n  "tenure",\n  "used_discount",  {MARK}\n]\n'),
        "forbidden-column",
    ),
    (
        "treatment-covariate",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = ["tenure", "email"]  {MARK}\n'),
        "treatment-as-covariate",
    ),
    (
        "outcome-covariate",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = ["retained", "tenure"]  {MARK}\n'),
        "outcome-as-covariate",
    ),
    (
        "not-a-control",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = ["tenure", "prior_visits"]  {MARK}\n'),
        "not-a-control",
    ),
    (
        "unknown-column",
        RETENTION,
        spec('covariates = "all"\n', f'covariates = ["tenure", "shoe_size"]  {MARK}\n'),
        "not-a-control",
    ),
    (
        "placebo-mediator",
        RETENTION,
        spec("placebo_outcomes = []\n", f'placebo_outcomes = ["clicked"]  {MARK}\n'),
        "placebo-not-pretreatment",
    ),
    (
        "placebo-outcome",
        RETENTION,
        spec("placebo_outcomes = []\n", f'placebo_outcomes = ["retained"]  {MARK}\n'),
        "placebo-not-pretreatment",
    ),
    (
        "placebo-unknown",
        RETENTION,
        spec("placebo_outcomes = []\n", f'placebo_outcomes = ["weather"]  {MARK}\n'),
        "placebo-not-pretreatment",
    ),
    ("estimand-att", RETENTION, spec('estimand = "ATE"\n', f'estimand = "ATT"  {MARK}\n'), "estimand-changed"),
    ("estimand-bad", RETENTION, spec('estimand = "ATE"\n', f'estimand = "CATE"  {MARK}\n'), "invalid-value"),
    ("trim", RETENTION, spec("trim = [0.0, 1.0]\n", f"trim = [0.1, 0.9]  {MARK}\n"), "trimming-changes-estimand"),
    ("trim-reversed", RETENTION, spec("trim = [0.0, 1.0]\n", f"trim = [0.9, 0.1]  {MARK}\n"), "invalid-value"),
    ("trim-one-arm", RETENTION, spec("trim = [0.0, 1.0]\n", f"trim = [0.6, 1.0]  {MARK}\n"), "invalid-value"),
    ("folds", RETENTION, spec("folds = 5\n", f"folds = 1  {MARK}\n"), "invalid-value"),
    ("covariates-type", RETENTION, spec('covariates = "all"\n', f'covariates = "some"  {MARK}\n'), "invalid-value"),
    ("unknown-key", RETENTION, spec("seed = 0\n", f"seed = 0\nbootstrap = 100  {MARK}\n"), "unknown-key"),
    (
        "unknown-learner",
        RETENTION,
        spec('propensity_learner = "logistic"\n', f'propensity_learner = "svm"  {MARK}\n'),
        "unknown-option",
    ),
]
BAD_SPECS += [
    (
        "spec-override-in-comment",  # TOML refuses an escape byte in a comment but takes a direction override
        RETENTION,
        spec("folds = 5\n", f"folds = 5  # \u202e01 = sdlof {MARK}\n"),
        "unshowable-character",
    ),
]


CLEAN_SPECS: list[tuple[str, Contract, str]] = [
    ("base", RETENTION, SPEC),
    (  # the parser takes these in any case, so the guard must not block them (round 12: it did)
        "upper-case-words",
        RETENTION,
        spec('covariates = "all"\n', 'covariates = "ALL"\n').replace('"gradient_boosting"', '"Gradient_Boosting"'),
    ),
    (
        "listed-controls",
        RETENTION,
        spec('covariates = "all"\n', 'covariates = ["tenure", "plan"]  # not opened: a mediator\n'),
    ),
    (
        "pretreatment-placebo",
        RETENTION,
        spec("placebo_outcomes = []\n", 'placebo_outcomes = ["prior_visits", "tenure"]\n'),
    ),
    (
        "ato-trimmed",
        replace(RETENTION, estimand=Estimand.ATO),
        spec('estimand = "ATE"\n', 'estimand = "ATO"\n').replace("trim = [0.0, 1.0]", "trim = [0.1, 0.9]"),
    ),
    ("no-optional-keys", RETENTION, 'estimand = "ATE"\n'),
]


@pytest.mark.parametrize(("name", "contract", "text", "code"), BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_spec_raises_its_finding(name: str, contract: Contract, text: str, code: str) -> None:
    findings = scan_analysis(text, contract)
    line = marked_line(text)
    assert code in codes_at(findings, line), f"{name}: expected {code} at line {line}, got {[str(f) for f in findings]}"


@pytest.mark.parametrize(("name", "contract", "text"), CLEAN_SPECS, ids=[c[0] for c in CLEAN_SPECS])
def test_clean_spec_is_not_flagged(name: str, contract: Contract, text: str) -> None:
    assert scan_analysis(text, contract) == []


def test_post_treatment_placebo_is_a_blocker_naming_the_reason() -> None:
    findings = scan_analysis(
        spec("placebo_outcomes = []\n", 'placebo_outcomes = ["support_tickets_after"]\n'), RETENTION
    )
    (hit,) = [f for f in findings if f.code == "placebo-not-pretreatment"]
    assert hit.severity is Severity.BLOCKER and "post-treatment" in hit.message and "prior_visits" in hit.message


def test_estimand_change_is_a_warning_that_says_the_question_changes() -> None:
    (hit,) = scan_analysis(spec('estimand = "ATE"\n', 'estimand = "att"\n'), RETENTION)
    assert hit.severity is Severity.WARNING and "question" in hit.message and "treated" in hit.message


@pytest.mark.parametrize("name", ["ihdp", "acic2016", "lalonde", "nhefs", "retention_email"])
def test_shipped_analysis_files_scan_clean(name: str) -> None:
    """The guard knows every key and option the shipped files use (auto, min_propensity: it once did not)."""
    from engine.problem_load import load_problem

    folder = Path(__file__).resolve().parents[1] / "problems" / name
    findings = scan_analysis((folder / "analysis.toml").read_text(), load_problem(folder).contract)
    assert [f for f in findings if f.severity is Severity.BLOCKER] == [], findings


def test_min_propensity_out_of_range_is_reported() -> None:
    from engine.problem_load import load_problem

    folder = Path(__file__).resolve().parents[1] / "problems" / "ihdp"
    bad = (folder / "analysis.toml").read_text().replace("min_propensity = 0.01", "min_propensity = 0.6")
    findings = scan_analysis(bad, load_problem(folder).contract)
    assert [f.code for f in findings if "min_propensity" in f.message] == ["invalid-value"]


def test_design_moves_render_specs_the_guard_accepts() -> None:
    """Every spec the design loop can render for a shipped contract scans without blockers."""
    spec_module = pytest.importorskip("engine.design.spec")
    spec = spec_module.AnalysisSpec()
    for learner in spec_module.OutcomeLearner:
        for estimator in spec_module.Estimator:
            text = spec_module.render_spec(spec.with_(outcome_learner=learner, estimator=estimator, trim=(0.05, 0.95)))
            codes = {f.code for f in scan_analysis(text, RETENTION)}
            assert codes <= {"trimming-changes-estimand"}, (learner, estimator, codes)


def test_toml_comment_may_name_forbidden_column() -> None:
    assert scan_analysis(SPEC + "# opened is a mediator: never list it\n", RETENTION) == []


# --------------------------------------------------------------------------- never raises


def assert_well_formed(findings: object) -> None:
    assert isinstance(findings, list)
    assert all(isinstance(f, Finding) and f.code in FINDING_CODES for f in findings)
    assert not [f for f in findings if f.code == "guard-error"], [str(f) for f in findings]
    keys = [(f.line or 0, f.code) for f in findings]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text())
def test_scan_model_never_raises_on_text(text: str) -> None:
    assert_well_formed(scan_model(text, RETENTION))


@FUZZ
@given(st.text())
def test_scan_analysis_never_raises_on_text(text: str) -> None:
    assert_well_formed(scan_analysis(text, RETENTION))


def mutate(base: str, data: st.DataObject) -> str:
    lines = base.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 6))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "swap", "dedent"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = lines[i].lstrip(" ")
    return "".join(lines)


BAD_SOURCES = [source for _, _, source, _ in BAD[:40]]


@FUZZ
@given(st.data())
def test_scan_model_never_raises_on_mutated_models(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([BASE, RETENTION_BASE, *BAD_SOURCES]))
    assert_well_formed(scan_model(mutate(base, data), data.draw(st.sampled_from([IHDP, RETENTION]))))


@FUZZ
@given(st.data())
def test_scan_analysis_never_raises_on_mutated_specs(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([SPEC, *(text for _, _, text, _ in BAD_SPECS)]))
    assert_well_formed(scan_analysis(mutate(base, data), RETENTION))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(BASE.replace("(", " ( ").replace(")", " ) ").split() + ["\n", "    ", ":", "=", "[", "]"]),
        max_size=60,
    )
)
def test_scan_model_never_raises_on_token_soup(tokens: list[str]) -> None:
    assert_well_formed(scan_model(" ".join(tokens), IHDP))
