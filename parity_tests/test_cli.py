"""`nnparity run`: the table, the verdict, the exit codes, the traces, other people's ports."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nnparity import paths, steps
from nnparity.atomic import MANIFEST
from nnparity.cli import main

ROOT = paths.BASE


def run(capsys, *args):
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_on_the_article_prints_every_step_in_both_tables_and_exits_0(capsys):
    code, out, err = run(capsys, "--epochs", "200")
    assert code == 0, out + err
    rows = re.findall(r"^ *(\d+) +(\w+) +[<>]?[\d.]+% .* 0 ok *$", out, flags=re.MULTILINE)
    expected = [(str(q.step), q.name) for q in steps.QUANTITIES]
    assert rows == expected * 2, (
        f"expected one row per step, in step order, in each of two tables:\n{out}"
    )
    assert out.splitlines()[-1] == (
        "PARITY HOLDS: article, every step of every epoch (200), modes: free, lockstep"
    ), out


def test_json_output_is_machine_readable(capsys):
    code, out, _ = run(capsys, "--epochs", "20", "--json")
    result = json.loads(out)
    assert code == 0 and result["passed"] is True
    assert [s["matrix"] for s in result["modes"]["free"]["steps"]] == list(steps.NAMES)


def test_save_traces_writes_both_languages_with_the_article_names(capsys, tmp_path):
    code, _, _ = run(capsys, "--epochs", "30", "--save-traces", str(tmp_path / "traces"))
    assert code == 0
    for language in ("python", "r"):
        with np.load(tmp_path / "traces" / f"{language}.npz") as trace:
            assert set(trace.files) == set(steps.NAMES)
            assert trace["wh"].shape == (30, 4, 3) and trace["output"].shape == (30, 3, 1)
    written = sorted(p.name for p in (tmp_path / "traces").iterdir())
    expected = sorted(
        [MANIFEST, "case", "python.npz", "python.rds", "r.npz", "r.rds", "trace.json"]
    )
    assert written == expected, f"temporary files left behind, or a part missing: {written}"


@pytest.mark.parametrize(
    "option, folder, file, name, old, new",
    [
        (
            "--r-impl",
            "r_impl",
            "steps.R",
            "bout",
            "bout + colSums(d_output) * lr",
            "bout + rowSums(d_output) * lr",
        ),
        (
            "--r-impl",
            "r_impl",
            "steps.R",
            "bh",
            "bh + colSums(d_hiddenlayer) * lr",
            "bh + sum(d_hiddenlayer) * lr",
        ),
        (
            "--python-impl",
            "python_impl",
            "steps.py",
            "bout",
            "np.sum(d_output, axis=0, keepdims=True)",
            "np.sum(d_output, axis=1, keepdims=True)",
        ),
        (
            "--python-impl",
            "python_impl",
            "steps.py",
            "bh",
            "np.sum(d_hiddenlayer, axis=0, keepdims=True)",
            "np.sum(d_hiddenlayer, axis=1, keepdims=True)",
        ),
    ],
    ids=["r-bout", "r-bh", "python-bout", "python-bh"],
)
def test_a_port_summing_a_bias_over_the_wrong_axis_fails_and_names_the_step(
    capsys, port_copy, option, folder, file, name, old, new
):
    code, out, err = run(capsys, option, str(port_copy(folder, file, old, new)), "--epochs", "5")
    assert code == 1, out + err
    assert f"step 11 ({name})" in out, out


def test_an_unknown_case_exits_2_with_one_line_naming_it(capsys):
    code, out, err = run(capsys, "--case", "no_such_case")
    assert code == 2
    assert err.startswith("nnparity: no_such_case: no such case folder") and err.count("\n") == 1, (
        err
    )


def test_lockstep_only_saves_the_python_trace_and_no_r_trace(capsys, tmp_path):
    code, out, _ = run(
        capsys, "--epochs", "10", "--mode", "lockstep", "--save-traces", str(tmp_path / "t")
    )
    assert code == 0
    python_only = sorted([MANIFEST, "case", "python.npz", "python.rds", "trace.json"])
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == python_only, (
        "lockstep has no R training to save"
    )
    assert f"trace saved: {tmp_path / 't' / 'python.npz'}" in out


def test_an_r_port_that_fails_while_training_leaves_no_half_written_r_trace(
    capsys, tmp_path, port_copy
):
    port = port_copy(
        "r_impl", "steps.R", "    sigmoid(output_layer_input)\n", '    stop("boom in step 4")\n'
    )
    code, _, _ = run(
        capsys, "--r-impl", str(port), "--epochs", "5", "--save-traces", str(tmp_path / "t")
    )
    assert code == 1
    python_only = sorted([MANIFEST, "case", "python.npz", "python.rds", "trace.json"])
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == python_only, (
        "r.npz must not exist when R did not finish"
    )


def test_a_trace_keeps_the_shape_a_buggy_port_recorded(capsys, tmp_path, port_copy):
    port = port_copy(
        "python_impl",
        "steps.py",
        "np.sum(d_output, axis=0, keepdims=True)",
        "np.sum(d_output, axis=1, keepdims=True)",
    )
    code, _, _ = run(
        capsys, "--python-impl", str(port), "--epochs", "4", "--save-traces", str(tmp_path / "t")
    )
    assert code == 1
    with np.load(tmp_path / "t" / "python.npz") as trace:
        assert trace["bout"].shape == (4, 3, 1), (
            "the file must show the (3 x 1) bout the port really made"
        )
        assert np.all(trace["bout"] != 0)


def test_a_users_ports_need_only_train_for_the_free_running_check(capsys, tmp_path):
    python_file = tmp_path / "my_port.py"
    # a user's single-file port
    python_file.write_text(
        "from nnparity.paths import python_impl\n\ntrain = python_impl().train\n"
    )
    r_file = tmp_path / "my_port.R"
    r_code = "".join(
        (ROOT / "r_impl" / f).read_text() for f in ("activations.R", "steps.R", "train.R")
    )
    r_file.write_text(
        r_code.replace("steps", "my_steps")
    )  # a user's R port, its step functions named otherwise
    code, out, err = run(
        capsys, "--python-impl", str(python_file), "--r-impl", str(r_file), "--epochs", "20"
    )
    assert code == 1, out + err
    free, lockstep = out.split("lockstep: R recomputes")
    assert "article (free, 20 epochs): parity holds" in free
    assert "defines no `steps` list" in lockstep and "--mode free" in lockstep
    code, out, err = run(
        capsys,
        "--python-impl",
        str(python_file),
        "--r-impl",
        str(r_file),
        "--epochs",
        "20",
        "--mode",
        "free",
    )
    assert code == 0, out + err


def test_a_case_folder_named_like_terminal_markup_is_shown_by_its_name(capsys, tmp_path):
    # rich reads "[red]" in a string as a style: the table's title showed an empty name.
    case = tmp_path / "[red]"
    case.mkdir()
    for file in (paths.FIXTURES / "article").glob("*.csv"):
        (case / file.name).write_bytes(file.read_bytes())
    code, out, err = run(capsys, "--case", str(case), "--epochs", "5", "--mode", "free")
    assert code == 0, out + err
    assert out.startswith("[red], 5 epochs, free-running"), (
        f"the table's title lost the case's name:\n{out[:200]}"
    )


@pytest.fixture
def fails_at_once(port_copy):
    """An R port whose E stops with an error in its first call: no epoch is compared."""
    return port_copy("r_impl", "steps.R", "    y - output\n",
                     '    if (output[2, 1] < 0.90) stop("boom")\n    y - output\n')


def test_steps_a_failed_port_never_let_be_compared_say_not_compared(capsys, fails_at_once):
    code, out, _ = run(capsys, "--epochs", "10", "--mode", "free", "--r-impl", str(fails_at_once))
    assert code == 1, out
    said = dict(re.findall(r"^ *\d+ +(\w+) +(.*?) *$", out, flags=re.M))
    assert set(said) == set(steps.NAMES), out
    for name, row in said.items():
        assert row == "not compared", f"{name} was never compared, its row says {row!r}"


def test_json_steps_a_failed_port_never_let_be_compared_are_not_passed(
    capsys, fails_at_once, tmp_path
):
    stats = tmp_path / "s.csv"
    code, out, _ = run(capsys, "--epochs", "10", "--mode", "free", "--r-impl",
                       str(fails_at_once), "--json", "--save-stats", str(stats))
    result = json.loads(out)
    assert code == 1 and result["modes"]["free"]["error"], result["modes"]["free"]
    wrong = [s["matrix"] for s in result["modes"]["free"]["steps"]
             if s["passed"] or s["compared"] or s["cells"]]
    assert not wrong, f"steps never compared read as compared or passed: {wrong}"


def test_statistics_of_a_run_that_compared_nothing_say_they_hold_no_rows(
    capsys, fails_at_once, tmp_path
):
    stats = tmp_path / "s.csv"
    code, out, _ = run(capsys, "--epochs", "10", "--mode", "free", "--r-impl",
                       str(fails_at_once), "--save-stats", str(stats))
    assert code == 1
    assert f"statistics saved: {stats} (no rows: nothing was compared)" in out, out


def test_json_has_the_same_keys_with_a_verdict_and_without(capsys, tmp_path):
    code, out, _ = run(capsys, "--epochs", "3", "--json")
    reached = json.loads(out)
    code_bad, out_bad, _ = run(capsys, "--case", str(tmp_path / "none"), "--json")
    stopped = json.loads(out_bad)
    assert (code, code_bad) == (0, 2)
    assert list(reached) == list(stopped), (
        f"--json's keys differ: with a verdict {list(reached)}, without {list(stopped)}"
    )
    assert reached["modes_asked"] == stopped["modes_asked"] == ["free", "lockstep"]


@pytest.mark.parametrize(
    "mistake", [["--mode", "bogus"], ["--no-such-option"], ["--epochs"]],
    ids=["a-bad-choice", "an-unknown-option", "an-option-without-its-value"],
)
def test_json_is_one_document_for_a_mistake_in_the_command_line_too(capsys, mistake):
    with pytest.raises(SystemExit) as stop:  # argparse's usage and exit code
        main(["run", "--json", *mistake])
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and "usage:" in err, f"exit {stop.value.code}: {err}"
    document = json.loads(out)  # one object, nothing else
    said = err.strip().splitlines()[-1].split("error: ", 1)[1]  # argparse's own line
    assert document["error"]["exit_code"] == 2 and document["error"]["message"].endswith(said), (
        f"--json's error should carry argparse's message {said!r}: {document['error']}"
    )


def test_a_name_holding_an_emoji_code_is_printed_as_written(tmp_path, capsys):
    # rich turned `:fire:` in a case folder's name into an emoji: the path printed was no path.
    import shutil

    folder = tmp_path / "emo:fire:case"
    shutil.copytree(paths.FIXTURES / "article", folder)
    (folder / "y.csv").unlink()
    assert main(["run", "--case", str(folder), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{folder}/y.csv: file is missing" in err, err


def test_a_workbook_wider_than_a_spreadsheet_is_refused_in_one_line(tmp_path, capsys):
    # 17,000 hidden units were written (exit 0) past the 16,384 columns LibreOffice and Excel
    # hold: LibreOffice cut the bias, and run --spreadsheet waited for its --timeout.
    from nnparity import cases

    hidden = 16_384  # column A is the labels': the bias ends one column too far
    case = cases.Case(
        name="wide", X=np.ones((1, 1)), y=np.ones((1, 1)), wh=np.full((1, hidden), 0.5),
        bh=np.full((1, hidden), 0.5), wout=np.full((hidden, 1), 0.5), bout=np.ones((1, 1)),
        lr=0.1, epochs=1, description="wider than a sheet", source="parity_tests/test_cli.py")
    folder = cases.write_case(case, tmp_path / "wide")
    out = tmp_path / "wide.xlsx"
    assert main(["workbook", "--case", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "would need 16,385 columns" in err and "16,384 columns" in err, err
    assert not out.exists(), "a workbook was written"


def test_a_folder_named_as_a_case_in_the_current_folder_does_not_hide_that_case(
    tmp_path, monkeypatch, capsys
):
    # A plain `nnparity run` beside a folder article/ (a blog's draft) failed: "article/
    # config.csv: file is missing"; with a copy of the case there, it silently ran that copy.
    (tmp_path / "article").mkdir()
    (tmp_path / "article" / "draft.md").write_text("notes\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--epochs", "2", "--mode", "free"]) == 0, capsys.readouterr().err
    assert main(["run", "--case", "./article", "--epochs", "2"]) == 2, "./article is that folder"
    assert "article/config.csv: file is missing" in capsys.readouterr().err
