"""``workbench new``: real CSVs read, every column's role suggested with evidence, the folder written.

The shipped problems are the reference: their CSVs through the flags give back their
contracts, and the suggestions catch the mistakes their contracts forbid.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from engine.agents.heuristic import recover_spec
from engine.intake.csvfile import IntakeError, read_csv
from engine.intake.dictionary import ROLE_FOR_REASON, Role, Timing
from engine.intake.suggest import ColumnKind, suggest
from engine.problem_load import load_problem
from workbench.cli import main

SHIPPED = ("ihdp", "lalonde", "nhefs", "retention_email", "acic2016")
FORBIDDEN_ROLES = {Role.MEDIATOR, Role.DESCENDANT, Role.SECONDARY_OUTCOME, Role.LEAKAGE, Role.ORACLE}
QUIET = ["--no-form", "--no-open", "--no-compile"]


def _flags_for(problem_name: str) -> list[str]:
    """The flags that state a shipped problem's contract."""
    problem = load_problem(ROOT / "problems" / problem_name)
    c = problem.contract
    flags = [
        "--name", problem.name, "--question", problem.question, "--title", problem.title,
        "--treatment", c.treatment, "--outcome", c.outcome,
        "--outcome-type", c.outcome_type.value, "--estimand", c.estimand.value,
        "--controls", ",".join(c.controls),
    ]  # fmt: skip
    for option, names in (("--categorical", c.categorical), ("--pretreatment", c.pretreatment), ("--ignore", c.ignore)):
        if names:
            flags += [option, ",".join(names)]
    for f in c.forbidden:
        flags += ["--forbid", f"{f.name}={f.reason.value}:{f.note}"]
    return flags


@pytest.mark.parametrize(
    "name",
    # ACIC's suggestions read 58 columns of 4,802 rows: 40 s on 2 cores, so it runs with the slow tests
    [pytest.param(n, marks=pytest.mark.slow) if n == "acic2016" else n for n in SHIPPED],
)
def test_flags_recreate_the_shipped_contract(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    status = main(["new", str(ROOT / "problems" / name / "data.csv"), "--out", str(out), *_flags_for(name), *QUIET])
    assert status == 0
    shipped, written = load_problem(ROOT / "problems" / name), load_problem(out)
    assert written.contract == shipped.contract
    assert (written.name, written.question, written.title) == (shipped.name, shipped.question, shipped.title)
    assert written.data[shipped.contract.outcome].equals(shipped.data[shipped.contract.outcome])
    outcome = shipped.contract.outcome_type.value
    assert recover_spec(written.read_text("model.py"), outcome) is not None  # the offline agent's own baseline
    assert "For the reviewer only" not in written.read_text("PROBLEM.md")


RETENTION_EVIDENCE = {
    "opened": ("'opened'", "only varies among the treated", "0.06 without the treatment, 0.39 with it"),
    "clicked_offer": ("'clicked'", "only varies among the treated"),
    "used_discount": ("only varies among the treated", "0 for all 2,833 untreated"),
    "revenue_30d": ("'revenue'", "AUC 1.000"),
    "value_60d": ("'60d'", "AUC 1.000"),
}


def test_retention_suggestions_flag_the_post_treatment_columns_with_evidence() -> None:
    suggestions = suggest(read_csv(ROOT / "problems/retention_email/data.csv"), "email", "renewed_30d")
    for name, fragments in RETENTION_EVIDENCE.items():
        column = suggestions.get(name)
        assert column is not None and column.suggested.role in FORBIDDEN_ROLES, name
        text = " ".join(column.evidence)
        assert all(f in text for f in fragments), (name, text)
        assert column.suggested.reason  # a forbidden suggestion carries its reason into the contract
    contract = load_problem(ROOT / "problems/retention_email").contract
    for control in contract.controls:  # no confounder is mistaken for a post-treatment column
        column = suggestions.get(control)
        assert column is not None and column.suggested.role is Role.CONFOUNDER, (control, column)
    wave = suggestions.get("wave")  # randomised campaign week: pre-treatment, never flagged as post-treatment
    assert wave is not None and wave.suggested.role not in FORBIDDEN_ROLES, wave
    assert wave.suggested.timing is Timing.PRE, wave
    assert suggestions.outcome.looks_like == "binary"
    assert suggestions.sample_note == "suggestions computed on all 5,000 rows"


def test_nhefs_leak_is_found_without_blaming_its_partner() -> None:
    # wt82 = wt71 + wt82_71: wt82 reproduces the outcome; wt71, a confounder, must not be blamed for it.
    suggestions = suggest(read_csv(ROOT / "problems/nhefs/data.csv"), "qsmk", "wt82_71")
    leak, partner = suggestions.get("wt82"), suggestions.get("wt71")
    assert leak is not None and leak.suggested.role is Role.LEAKAGE
    assert "reproduces the outcome" in leak.suggested.reason
    assert partner is not None and partner.suggested.role is Role.CONFOUNDER
    smoking = suggestions.get("smkintensity82_71")
    assert smoking is not None and smoking.suggested.role in FORBIDDEN_ROLES
    assert "the treatment predicts it far better" in smoking.suggested.reason


def _messy_frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    y = 2 * t + x + rng.normal(size=n)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "signup": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "arm": np.where(t == 1, "treated", "control"),
            "spend": y,
            "age": rng.integers(18, 80, n),
            "x": x,
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "city": [f"city {i % 97}" for i in range(n)],
            "comment": [f"customer said thing number {i} about the product" for i in range(n)],
            "country": "NL",
        }
    )


def test_column_kinds_and_a_text_treatment(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    _messy_frame().to_csv(path, index=False)
    table = read_csv(path)
    with pytest.raises(IntakeError, match="--treated-value"):
        suggest(table, "arm", "spend")
    suggestions = suggest(table, "arm", "spend", treated_value="treated")
    kinds = {c.name: (c.kind, c.suggested.role) for c in suggestions.columns}
    assert kinds["customer_id"] == (ColumnKind.IDENTIFIER, Role.IDENTIFIER)
    assert kinds["signup"] == (ColumnKind.DATE, Role.UNUSED)
    assert kinds["comment"] == (ColumnKind.FREE_TEXT, Role.UNUSED)
    assert kinds["city"] == (ColumnKind.HIGH_CARDINALITY, Role.UNUSED)
    assert kinds["country"] == (ColumnKind.CONSTANT, Role.UNUSED)
    assert kinds["plan"] == (ColumnKind.CATEGORICAL, Role.CONFOUNDER)
    assert kinds["x"] == (ColumnKind.NUMERIC, Role.CONFOUNDER)
    date = suggestions.get("signup")
    assert date is not None and "usable only once encoded" in date.evidence[0]


def test_a_text_treatment_is_recoded_and_the_rule_recorded(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    _messy_frame().to_csv(path, index=False)
    out = tmp_path / "messy_problem"
    args = [
        "new",
        str(path),
        "--out",
        str(out),
        "--treatment",
        "arm",
        "--treated-value",
        "treated",
        "--outcome",
        "spend",
    ]
    assert main([*args, "--outcome-type", "continuous", "--accept-suggestions", *QUIET]) == 0
    problem = load_problem(out)
    assert set(problem.data["arm"]) == {0, 1}
    assert (problem.data["arm"] == 1).sum() == (_messy_frame()["arm"] == "treated").sum()
    intake = tomllib.loads((out / "problem.toml").read_text())["intake"]
    assert "equals 'treated'" in intake["treatment_rule"]
    assert problem.contract.controls == ("age", "x", "plan") and problem.contract.categorical == ("plan",)
    assert set(problem.contract.ignore) == {"customer_id", "signup", "city", "comment", "country"}
    assert "treatment: arm = 1 where the original column equals 'treated'" in problem.read_text("PROBLEM.md")


def test_real_world_csv_quirks_are_read_and_recorded(tmp_path: Path) -> None:
    text = 'Behandlung;Umsatz;Alter;Mitglied;Gebühr\n1;"1.234,50";34;ja;"0"\n0;"12,00";51;nein;"1"\n'
    # "ja"/"nein" are not English booleans: they stay text. cp1252 for the "ü".
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    table = read_csv(path)
    assert table.source.delimiter == "semicolon" and table.source.encoding == "cp1252"
    assert table.frame["Umsatz"].tolist() == [1234.5, 12.0]
    assert table.frame["Gebühr"].tolist() == [0, 1]
    assert any("decimal commas" in c for c in table.conversions)

    path2 = tmp_path / "bom.csv"
    path2.write_bytes('\ufeffid,amount,active,flag\n1,"1,234.50",TRUE,yes\n2,"12.0",FALSE,no\n'.encode())
    table2 = read_csv(path2)
    assert list(table2.frame.columns) == ["id", "amount", "active", "flag"]  # the BOM is not part of "id"
    assert table2.frame["amount"].tolist() == [1234.5, 12.0]
    assert table2.frame["active"].tolist() == [1.0, 0.0] and table2.frame["flag"].tolist() == [1.0, 0.0]
    assert {"UTF-8 byte-order mark removed", "'flag': text booleans yes/no read as 1/0"} <= set(table2.conversions)

    tsv = tmp_path / "tab.tsv"
    tsv.write_text("t\ty\tx\n1\t2.5\t3\n0\t1.5\t4\n")
    assert read_csv(tsv).source.delimiter == "tab"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04rest of a zip", "zip archive"),
        (b"a,b\x00,c\n", "NUL bytes"),
        (b"", "empty"),
        (b"only_one_column\n1\n2\n", "one column"),
        (b"t,y,t\n1,2,3\n", "names 't' twice"),
        (b"t,y,x\n", "no data rows"),
    ],
)
def test_unusable_files_exit_2_and_write_nothing(tmp_path: Path, content: bytes, message: str, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    out = tmp_path / "never"
    assert main(["new", str(path), "--out", str(out), "--treatment", "t", "--outcome", "y", *QUIET]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def _with_missing(tmp_path: Path) -> Path:
    frame = _messy_frame()[["arm", "spend", "age", "x"]].copy()
    frame.loc[[3, 7, 11], "x"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    return path


def test_missing_values_stop_by_default_and_drop_is_recorded(tmp_path: Path, capsys) -> None:
    path = _with_missing(tmp_path)
    out = tmp_path / "gaps"
    args = ["new", str(path), "--out", str(out), "--treatment", "arm", "--treated-value", "treated"]
    args += ["--outcome", "spend", "--outcome-type", "continuous", "--controls", "age,x", *QUIET]
    assert main(args) == 2
    assert "x (3)" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--missing", "drop"]) == 0
    intake = tomllib.loads((out / "problem.toml").read_text())["intake"]
    assert (intake["rows"], intake["rows_kept"], intake["rows_dropped"]) == (300, 297, 3)
    assert len(load_problem(out).data) == 297
    assert "3 rows dropped for missing values" in (out / "PROBLEM.md").read_text()


def test_undecided_columns_exit_2_and_name_the_suggestions(tmp_path: Path, capsys) -> None:
    out = tmp_path / "re"
    data = str(ROOT / "problems/retention_email/data.csv")
    status = main(["new", data, "--out", str(out), "--treatment", "email", "--outcome", "renewed_30d", *QUIET])
    assert status == 2 and not out.exists()
    printed = capsys.readouterr().out
    assert "17 column(s) not decided" in printed
    assert "outcome type: suggested binary" in printed
    assert "value_60d: leakage" in printed


def test_an_existing_folder_needs_force_and_gets_its_answers_back(tmp_path: Path, capsys) -> None:
    out = tmp_path / "nhefs_again"
    data = str(ROOT / "problems/nhefs/data.csv")
    assert main(["new", data, "--out", str(out), *_flags_for("nhefs"), *QUIET]) == 0
    first = load_problem(out).contract
    (out / "PROGRAM.md").write_text("my notes\n")
    assert main(["new", data, "--out", str(out), *QUIET]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "PROGRAM.md").read_text() == "my notes\n"  # untouched
    # The same CSV again, no role flags: the previous answers decide every column.
    assert main(["new", data, "--out", str(out), "--force", *QUIET]) == 0
    assert "its answers are proposed again" in capsys.readouterr().out
    assert load_problem(out).contract == first


def test_force_replaces_only_a_folder_workbench_new_wrote(tmp_path: Path, capsys) -> None:
    """QA round 13: --force deleted the user's own CSV kept in the folder, and with --out problems every problem."""
    data = tmp_path / "problems" / "nhefs_mine" / "my_data.csv"
    data.parent.mkdir(parents=True)
    data.write_bytes((ROOT / "problems/nhefs/data.csv").read_bytes())
    (data.parent / "notes.txt").write_text("my only copy\n")
    other = tmp_path / "problems" / "other"
    assert main(["new", str(ROOT / "problems/nhefs/data.csv"), "--out", str(other), *_flags_for("nhefs"), *QUIET]) == 0
    for out in (data.parent, tmp_path / "problems", data):
        assert main(["new", str(data), "--out", str(out), *_flags_for("nhefs"), "--force", *QUIET]) == 2
        err = capsys.readouterr().err
        assert "did not write" in err or "is a file" in err, err
    assert data.is_file() and (data.parent / "notes.txt").read_text() == "my only copy\n"
    assert load_problem(other).name == "nhefs"  # the other problem is whole


def test_a_control_against_the_evidence_is_written_with_a_warning(tmp_path: Path, capsys) -> None:
    out = tmp_path / "nhefs_bad"
    flags = _flags_for("nhefs")
    flags[flags.index("--controls") + 1] += ",death"
    at = flags.index(next(f for f in flags if f.startswith("death=")))
    del flags[at - 1 : at + 1]  # the --forbid death=… pair
    status = main(["new", str(ROOT / "problems/nhefs/data.csv"), "--out", str(out), *flags, *QUIET])
    assert status == 0  # the principal decides; the check says what the data suggest
    assert "warning: death is a control, but the checks suggest" in capsys.readouterr().out


def test_large_data_suggestions_use_a_stated_sample(tmp_path: Path) -> None:
    frame = _messy_frame(n=25_000)[["arm", "spend", "age", "x"]]
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    suggestions = suggest(read_csv(path), "arm", "spend", treated_value="treated")
    assert suggestions.sampled == 20_000
    assert suggestions.sample_note == "suggestions computed on a random sample of 20,000 of 25,000 rows"


def test_reason_words_map_onto_the_contract() -> None:
    # Every ForbiddenReason the contract knows is a role the dictionary can express.
    assert {r.value for r in ROLE_FOR_REASON} == {"post-treatment", "mediator", "leakage", "oracle", "outcome"}


def _count_csv(path: Path, n: int = 400, seed: int = 3) -> float:
    """Visits per customer, overdispersed; returns the true ATE (a difference in expected counts)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    t = (rng.random(n) < 1 / (1 + np.exp(-0.8 * x1))).astype(int)
    rate = np.exp(0.5 + 0.4 * t + 0.5 * x1 - 0.3 * x2)
    y = rng.negative_binomial(5, 5 / (5 + rate))
    pd.DataFrame({"t": t, "visits": y, "x1": x1.round(4), "x2": x2}).to_csv(path, index=False)
    return float(np.mean(np.exp(0.9 + 0.5 * x1 - 0.3 * x2) - np.exp(0.5 + 0.5 * x1 - 0.3 * x2)))


@pytest.mark.slow  # real nutpie sampling, about 20 s
def test_a_count_outcome_runs_end_to_end_with_a_count_likelihood(tmp_path: Path, capsys) -> None:
    from engine.store import Session

    truth = _count_csv(tmp_path / "visits.csv")
    out = tmp_path / "visits"
    assert main(["new", str(tmp_path / "visits.csv"), "--out", str(out), "--treatment", "t", "--outcome", "visits",
                 "--accept-suggestions", *QUIET]) == 0  # fmt: skip
    assert "outcome type count (suggested: whole numbers from 0" in capsys.readouterr().out
    problem = load_problem(out)
    assert problem.contract.outcome_type.value == "count"
    assert "pm.NegativeBinomial" in problem.read_text("model.py")
    assert "expected count" in problem.read_text("PROGRAM.md")
    code = main(["run", str(out), "-n", "1", "--sessions-root", str(tmp_path / "sessions"), "--json",
                 "--chains", "4", "--draws", "500", "--tune", "500"])  # fmt: skip
    summary = __import__("json").loads(capsys.readouterr().out)
    assert code == 0 and summary["by_status"] == {"kept": 1}, summary
    with Session.open(summary["session"], readonly=True) as session:
        (record,) = list(session.iterations())
    effect = record.verdict.metrics.effect
    assert effect is not None and effect.hdi_low < truth < effect.hdi_high, (effect, truth)


# --------------------------------------------------------------------------- QA round 13: users' own files


def _users_csv(tmp_path: Path, extra: dict[str, list], n: int = 200, seed: int = 5) -> Path:
    """A confounded table of ``n`` rows (t, y, x1, x2) with the columns in ``extra`` beside it."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    t = (rng.random(n) < 1 / (1 + np.exp(-x1))).astype(int)
    frame = pd.DataFrame({"t": t, "y": np.round(2 * t + x1 + x2 + rng.normal(size=n), 3), "x1": x1, "x2": x2})
    for name, values in extra.items():
        frame[name] = (values * (n // len(values) + 1))[:n]
    path = tmp_path / "users.csv"
    frame.to_csv(path, index=False)
    return path


FLAGS = ["--treatment", "t", "--outcome", "y", "--outcome-type", "continuous", *QUIET]


@pytest.mark.parametrize(
    ("extra", "flags"),
    [
        ({"sex": ["M", "F", "F"]}, ["--controls", "x1,x2,sex", "--categorical", "sex"]),  # suggest crashed on 'F'
        ({"member": ["True", "", "False"]}, ["--controls", "x1,x2,member", "--missing", "drop"]),  # bools with blanks
        ({"sparse": ["1.5", "3.5", "2.0"] + [""] * 197}, ["--controls", "x1,x2", "--ignore", "sparse"]),  # 3 values
    ],
    ids=["two-value-text", "booleans-with-blanks", "three-values-filled"],
)
def test_plausible_columns_become_a_problem_without_a_traceback(tmp_path: Path, extra, flags) -> None:
    path = _users_csv(tmp_path, extra)
    assert main(["new", str(path), "--out", str(tmp_path / "p"), *FLAGS, *flags]) == 0
    assert load_problem(tmp_path / "p").contract.treatment == "t"


def test_na_is_a_label_in_text_and_missing_in_numbers(tmp_path: Path) -> None:
    """'NA' is North America in a region column and missing in an age column; pandas read both as missing."""
    path = _users_csv(tmp_path, {"region": ["NA", "EU", "APAC"], "plan": ["None", "Pro"], "age": ["31", "NA", "."]})
    table = read_csv(path)
    assert (table.frame["region"] == "NA").sum() > 0 and table.frame["plan"].eq("None").sum() > 0
    assert table.frame["age"].dtype.kind == "f" and table.frame["age"].isna().sum() == 2 * 200 // 3
    notes = " ".join(table.conversions)
    assert "'age': '.'/'NA' read as missing" in notes and "'region': 'NA' kept as a value" in notes
    out = tmp_path / "p"
    flags = ["--controls", "x1,x2,region,plan", "--categorical", "region,plan", "--ignore", "age"]
    assert main(["new", str(path), "--out", str(out), *FLAGS, *flags]) == 0
    written = load_problem(out).data
    assert len(written) == 200 and set(written["region"]) == {"NA", "EU", "APAC"}  # no row dropped as "missing"


def test_infinity_and_a_late_windows_byte_are_read_or_refused_clearly(tmp_path: Path) -> None:
    path = _users_csv(tmp_path, {"x3": ["1.0", "inf", "2.0"]})
    with pytest.raises(IntakeError, match="infinite values"):
        read_csv(path)
    late = tmp_path / "late.csv"
    rows = "".join(f"{i % 2},{i * 0.5},{i},city\n" for i in range(5000))
    late.write_bytes(("t,y,x1,town\n" + rows).encode() + "1,2.0,3,Zürich\n".encode("cp1252"))
    assert len("t,y,x1,town\n" + rows) > 64 * 1024  # past the sniffed head
    table = read_csv(late)
    assert table.source.encoding == "cp1252" and table.frame["town"].iloc[-1] == "Zürich"


def test_a_forbidden_column_named_like_a_model_variable_is_refused_with_a_rename(tmp_path: Path, capsys) -> None:
    path = _users_csv(tmp_path, {"mu": ["0.5", "0.7"]})
    flags = ["--controls", "x1,x2", "--forbid", "mu=outcome:the simulated truth"]
    assert main(["new", str(path), "--out", str(tmp_path / "p"), *FLAGS, *flags]) == 2
    err = capsys.readouterr().err
    assert "rename the column" in err and "bug" not in err
    missing = tmp_path / "no_notes.md"
    assert main(["new", str(path), "--out", str(tmp_path / "q"), *FLAGS, "--controls", "x1,x2,mu", "--reviewer-notes", str(missing)]) == 2  # fmt: skip
    assert "no such file" in capsys.readouterr().err


def test_a_problem_file_saved_in_windows_1252_names_the_file_and_line(tmp_path: Path, capsys) -> None:
    import shutil

    folder = tmp_path / "ihdp"
    shutil.copytree(ROOT / "problems" / "ihdp", folder)
    text = (folder / "problem.toml").read_text(encoding="utf-8")
    (folder / "problem.toml").write_bytes(text.replace('question = "', 'question = "santé: ', 1).encode("cp1252"))
    assert main(["check", str(folder), "--no-compile"]) == 2
    assert "problem.toml is not UTF-8 text" in capsys.readouterr().err


def test_a_yes_no_treatment_takes_its_word_as_the_treated_value(tmp_path: Path) -> None:
    """yes/no is read as 1/0; --treated-value no then means the rows that said no (it said 'never occurs')."""
    path = _users_csv(tmp_path, {"offer": ["yes", "no", "no"]})
    out = tmp_path / "p"
    flags = ["--treatment", "offer", "--outcome", "y", "--outcome-type", "continuous", "--treated-value", "no"]
    assert main(["new", str(path), "--out", str(out), *flags, "--controls", "x1,x2", "--ignore", "t", *QUIET]) == 0
    said = pd.read_csv(path)["offer"]
    assert (load_problem(out).data["offer"].to_numpy() == (said == "no").to_numpy()).all()
