"""Bad inputs get clear errors: exit code 2, a message naming what is wrong, nothing written.

Each test copies problems/ihdp into tmp_path, breaks one thing, and runs the real CLI
function (``workbench.cli.main``) for ``run`` and ``check``; the sessions folder must not
even be created.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from engine.problem import SAMPLING_BOUNDS, sampling_issue
from engine.problem_load import load_problem
from workbench.cli import main


def _run(capsys, folder: Path, sessions: Path, *extra: str) -> tuple[int, str]:
    code = main(["run", str(folder), "--iterations", "1", "--sessions-root", str(sessions), "--json", *extra])
    return code, capsys.readouterr().err


def _check(capsys, folder: Path) -> tuple[int, str]:
    code = main(["check", str(folder), "--no-compile"])
    return code, capsys.readouterr().err


def _both(capsys, folder: Path, tmp_path: Path) -> str:
    """Run ``workbench run`` and ``workbench check`` on ``folder``: both exit 2 with the same message."""
    sessions = tmp_path / "sessions"
    code, err = _run(capsys, folder, sessions)
    assert code == 2, err
    assert not sessions.exists(), "a session folder was written for invalid input"
    code_check, err_check = _check(capsys, folder)
    assert code_check == 2 and err_check == err
    return err


def test_infinite_values_name_the_column_and_rows(problem_copy, tmp_path, capsys) -> None:
    folder = problem_copy("ihdp")
    text = (folder / "data.csv").read_text().splitlines()
    header = text[0].split(",")
    for row, column, value in ((3, "bw", "inf"), (7, "bw", "-inf"), (5, "y", "inf")):
        cells = text[row].split(",")
        cells[header.index(column)] = value
        text[row] = ",".join(cells)
    (folder / "data.csv").write_text("\n".join(text) + "\n")
    err = _both(capsys, folder, tmp_path)
    assert "control 'bw' has 2 infinite values (inf or -inf) in data rows 3, 7" in err
    assert "outcome 'y' has 1 infinite value (inf or -inf) in data row 5" in err
    assert "model" not in err.lower()  # not blamed on a model


def test_semicolon_delimited_file_suggests_the_delimiter(problem_copy, tmp_path, capsys) -> None:
    folder = problem_copy("ihdp")
    frame = pd.read_csv(folder / "data.csv")
    frame.to_csv(folder / "data.csv", sep=";", index=False)
    err = _both(capsys, folder, tmp_path)
    assert "looks semicolon-delimited" in err
    assert "sep=';'" in err
    assert "has no role" not in err  # no wall of missing-column complaints


def test_tab_delimited_file_is_named_too(problem_copy, tmp_path, capsys) -> None:
    folder = problem_copy("ihdp")
    pd.read_csv(folder / "data.csv").to_csv(folder / "data.csv", sep="\t", index=False)
    assert "looks tab-delimited" in _both(capsys, folder, tmp_path)


def test_duplicated_column_name_says_duplicate(problem_copy, tmp_path, capsys) -> None:
    folder = problem_copy("ihdp")
    lines = (folder / "data.csv").read_text().splitlines()
    header = lines[0].split(",")
    header[header.index("b_head")] = "bw"
    lines[0] = ",".join(header)
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    err = _both(capsys, folder, tmp_path)
    assert "duplicate column names in the header: 'bw' at columns 3, 4" in err
    assert "bw.1" not in err


@pytest.mark.parametrize(
    ("line", "replacement", "expected"),
    [
        (
            "chains = 4",
            "chains = 4000",
            "[sampling] chains 4000 is out of range: chains must be a whole number from 1 to 64",
        ),
        (
            "draws = 1000",
            "draws = 5",
            "[sampling] draws 5 is out of range: draws must be a whole number from 10 to 100,000",
        ),
        (
            "tune = 1000",
            "tune = 0",
            "[sampling] tune 0 is out of range: tune must be a whole number from 10 to 100,000",
        ),
        ("draws = 1000", "draws = 250.5", "[sampling] draws must be a whole number from 10 to 100,000, not 250.5"),
        ("chains = 4", 'chains = "four"', "[sampling] chains must be a whole number from 1 to 64, not 'four'"),
    ],
)
def test_absurd_sampling_settings_in_problem_toml(problem_copy, tmp_path, capsys, line, replacement, expected) -> None:
    folder = problem_copy("ihdp")
    toml = folder / "problem.toml"
    assert line in toml.read_text()
    toml.write_text(toml.read_text().replace(line, replacement))
    assert expected in _both(capsys, folder, tmp_path)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--chains", "4000", "--chains 4000 is out of range: chains must be a whole number from 1 to 64"),
        ("--chains", "0", "--chains 0 is out of range: chains must be a whole number from 1 to 64"),
        ("--draws", "1000000", "--draws 1000000 is out of range: draws must be a whole number from 10 to 100,000"),
        ("--tune", "-1", "--tune -1 is out of range: tune must be a whole number from 10 to 100,000"),
        ("--tune", "lots", "--tune must be a whole number from 10 to 100,000, not 'lots'"),
    ],
)
def test_absurd_sampling_settings_on_the_command_line(tmp_path, capsys, option, value, expected) -> None:
    sessions = tmp_path / "sessions"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "problems/ihdp", "--sessions-root", str(sessions), option, value])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err
    assert not sessions.exists()


def test_sampling_bounds_admit_the_shipped_settings_and_the_test_sizes() -> None:
    for key, value in (("chains", 4), ("draws", 1000), ("tune", 1000), ("chains", 2), ("draws", 100), ("tune", 100)):
        assert sampling_issue(key, value, key) is None
    assert SAMPLING_BOUNDS["chains"] == (1, 64)


@pytest.mark.parametrize("name", ["../escape", "ihdp study", ".hidden", "a/b", "x" * 65, "ihdp:2"])
def test_problem_name_that_cannot_be_a_session_id_names_the_key(problem_copy, tmp_path, capsys, name) -> None:
    folder = problem_copy("ihdp")
    toml = folder / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "ihdp"', f"name = {name!r}".replace("'", '"')))
    err = _both(capsys, folder, tmp_path)
    assert re.search(r"\[problem\] name = .* cannot start a session id", err)
    assert "letters, digits, '-', '_' and '.'" in err


def test_ordinary_problem_names_still_load(problem_copy) -> None:
    folder = problem_copy("ihdp")
    toml = folder / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "ihdp"', 'name = "IHDP_v2.1-b"'))
    assert load_problem(folder).name == "IHDP_v2.1-b"
