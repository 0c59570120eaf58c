"""Both ports honour one contract: the article's names, in order, recorded every epoch."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from nnparity import paths, steps

python_impl = paths.python_impl()  # our Python port, python_impl/

ROOT = paths.BASE


def test_python_port_records_steps_0_and_1_then_exactly_the_article_names_in_step_order(article):
    trace = python_impl.train(
        *article.train_inputs(),
        2,
        record=True,
    )["trace"]
    assert tuple(trace) == (*steps.ONCE, *steps.NAMES)


def test_r_port_records_steps_0_and_1_then_the_article_names_then_what_train_returned(
    article, r_port
):
    r_port.start(article)
    assert tuple(r_port.advance(2)) == (*steps.ONCE, *steps.NAMES, *steps.RETURNED)


@pytest.mark.parametrize("chunks", [(3,), (2, 4)])
def test_both_ports_record_the_data_and_weights_they_start_each_chunk_from_bit_for_bit(
    article, python_port, r_port, chunks
):
    for port in (python_port, r_port):
        port.start(article)
        start = article.matrices()
        for size in chunks:
            trace = port.advance(size)
            for name, quantity in steps.ONCE.items():
                expected = start[name.removeprefix("initial_")]
                assert trace[name].shape == (1, *expected.shape), (
                    f"{port.language}: step {quantity.step} {name} has shape {trace[name].shape}"
                )
                assert trace[name][0].tobytes() == expected.tobytes(), (
                    f"{port.language}: step {quantity.step} {name} is not what the chunk started "
                    "from"
                )
            start.update({name: trace[name][-1] for name in steps.STATE})


def test_what_train_returns_is_the_last_recorded_epoch_bit_for_bit(case, python_port, r_port):
    for port in (python_port, r_port):
        port.start(case)
        trace = port.advance(3)
        for name, recorded in steps.RETURNED.items():
            assert trace[name][0].tobytes() == trace[recorded][-1].tobytes(), (
                f"{port.language} {case.name}: {name} differs from {recorded} at epoch 3"
            )


def test_both_ports_record_every_matrix_with_the_shape_the_step_list_gives(
    case, python_port, r_port
):
    for port in (python_port, r_port):
        port.start(case)
        trace = port.advance(3)
        for name in steps.NAMES:
            expected = (3, *steps.shape_of(name, *case.dims))
            assert trace[name].shape == expected, (
                f"{port.language} {case.name}: {name} has shape {trace[name].shape}, expected "
                f"{expected}"
            )


def test_both_ports_define_one_step_function_per_recorded_matrix(r_port):
    from nnparity.bridge import call

    assert set(steps.NAMES) == {name for name in dir(python_impl.steps) if name in steps.NAMES}
    r_names = set(np.asarray(call("names", call("get", "steps", envir=r_port.env))))
    assert r_names == set(steps.NAMES), f"r_impl/steps.R defines {sorted(r_names)}"


def test_training_in_chunks_equals_training_at_once(article, python_port, r_port):
    for port in (python_port, r_port):
        port.start(article)
        whole = port.advance(10)
        port.start(article)
        parts = [port.advance(3), port.advance(7)]
        for name in steps.NAMES:
            joined = np.concatenate([p[name] for p in parts])
            assert joined.tobytes() == whole[name].tobytes(), (
                f"{port.language}: {name} differs when trained 3 + 7 epochs"
            )


def test_r_port_runs_on_its_own_with_rscript_and_prints_the_final_output(article, python_port):
    command = ["Rscript", str(paths.R_IMPL / "main.R"), str(paths.FIXTURES / "article"), "50"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    printed = [float(line.split()[-1]) for line in result.stdout.splitlines()[1:]]
    python_port.start(article)
    expected = python_port.advance(50)["output"][-1].ravel()
    # print() shows 7 significant digits, so the printed values agree to about 5e-7 relative.
    np.testing.assert_allclose(
        printed, expected, rtol=1e-6, err_msg=f"Rscript r_impl/main.R printed:\n{result.stdout}"
    )


def test_record_false_trains_the_same_weights_without_a_trace(article):
    args = (
        *article.train_inputs(),
        20,
    )
    recorded, bare = python_impl.train(*args, record=True), python_impl.train(*args)
    assert bare["trace"] == {}
    for name in steps.STATE:
        assert bare[name].tobytes() == recorded[name].tobytes()


#: r_impl loaded by a worker (worker.Worker.load), or as the tests load it (RPort()), in a
#: process of its own: which functions R's JIT compiled after a short training and a lockstep,
#: the JIT's level afterwards, and the trace's digest.
JIT_PROBE = """
import hashlib, json, sys
from nnparity import bridge
from nnparity.cases import load_case
from nnparity.ports import PythonPort, RPort
from nnparity.worker import Worker
case = load_case("article")
if sys.argv[1] == "worker":
    worker = Worker()
    worker.load("r", None, {}, None)
    port = worker.port
else:
    port = RPort()
port.start(case)
trace = port.advance(20)
python = PythonPort()
python.start(case)
port.lockstep(case, python.advance(20), case.state())
robjects = bridge.r()[0]
compiled = robjects.r('''function(f) any(grepl("<bytecode", capture.output(print(f))))''')
functions = {"train": port.env.find("train"), "one_epoch": port.env.find("one_epoch"),
             "steps$E": port.env.find("steps").rx2("E")}
functions.update((name, bridge.harness().find(name))
                 for name in ("nnparity_advance", "check_result", "lockstep_one", "check_dim"))
print(json.dumps({
    "compiled": {name: bool(compiled(f)[0]) for name, f in functions.items()},
    "jit_after": int(robjects.r("compiler::enableJIT(-1)")[0]),
    "digest": hashlib.md5(b"".join(trace[k].tobytes() for k in sorted(trace))).hexdigest(),
}))
"""


def jit_probe(mode: str, **env) -> dict:
    import json
    import os
    import sys

    result = subprocess.run([sys.executable, "-c", JIT_PROBE, mode], capture_output=True,
                            text=True, env={**os.environ, **env}, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


#: The port's functions the probe asks about, and the harness's (called outside lockstep).
PORT_FUNCTIONS = ("train", "one_epoch", "steps$E")
HARNESS_FUNCTIONS = ("nnparity_advance", "check_result")


def test_an_r_worker_compiles_the_ports_code_as_r_does_and_leaves_the_harness_uncompiled(
    r_available,
):
    worker, everything = jit_probe("worker"), jit_probe("in-process")
    port = {name: worker["compiled"][name] for name in PORT_FUNCTIONS}
    assert port == {name: everything["compiled"][name] for name in PORT_FUNCTIONS}, (
        "the port's functions should be compiled by R's JIT exactly as in an R that compiles "
        f"everything: worker {worker}, everything {everything}"
    )
    assert any(port.values()), f"R's JIT should have compiled some of the port's code: {worker}"
    harness = {name: worker["compiled"][name] for name in HARNESS_FUNCTIONS}
    assert not any(harness.values()), (
        "the harness's own functions should be left to the interpreter in a worker (compiling "
        f"them cost ~45 ms of its start): worker {worker}"
    )
    assert worker["jit_after"] == 0, f"the JIT should be off between the port's calls: {worker}"


def test_an_r_worker_runs_lockstep_per_epoch_loop_compiled(r_available):
    """R's JIT compiles a small function by itself only in R's global environment; the harness
    lives in its own, so lockstep compiles the functions it runs each epoch (harness.R,
    lockstep_hot): interpreted, a 5000-epoch lockstep on the article took 0.15-0.2 s more."""
    compiled = jit_probe("worker")["compiled"]
    assert compiled["lockstep_one"] and compiled["check_dim"], (
        f"lockstep's per-epoch loop and its shape check should run compiled: {compiled}"
    )


def test_an_r_worker_trains_the_same_bits_as_an_r_that_compiles_everything(r_available):
    assert jit_probe("worker")["digest"] == jit_probe("in-process")["digest"], (
        "leaving the harness uncompiled changed the bits R's port computes"
    )


def test_an_r_worker_keeps_the_jit_off_for_the_port_when_the_user_turned_it_off(r_available):
    probe = jit_probe("worker", R_ENABLE_JIT="0")
    assert not any(probe["compiled"].values()), (
        f"R_ENABLE_JIT=0 should leave the port uncompiled too, as Rscript would: {probe}"
    )


@pytest.mark.parametrize("language", ["Python", "R"])
def test_a_port_answers_a_chunk_with_its_weights_only_when_asked_for_them(
    article, python_port, r_port, language
):
    from nnparity.port import submit

    port = python_port if language == "Python" else r_port
    port.start(article)
    asked = submit(port, "advance", 2).result()
    spared = submit(port, "advance", 2, True, False).result()
    assert spared["weights"] is None, (
        f"the {language} port was asked not to return its weights (R's, which the run never "
        "reads, cost rpy2 1-2 ms a chunk) and returned them"
    )
    for name in steps.STATE:
        assert asked["weights"][name].tobytes() == asked["trace"][name][-1].tobytes(), (
            f"{language}: the weights asked for are not the chunk's last {name}"
        )


def test_a_python_port_in_a_file_not_named_py_loads_as_python_would_run_it(tmp_path):
    # importlib guesses a file's loader from its ".py" only: such a file was an AttributeError
    # about a NoneType's loader, naming no file.
    from nnparity.python_port import load_python_module

    port = tmp_path / "my_port"
    port.write_text("def train(X, y, wh, bh, wout, bout, lr, epochs, record=False):\n    pass\n")
    module = load_python_module(port)
    assert callable(module.train), "the port's train() was not loaded from a file without .py"


#: The packages on R's search path in a worker that loaded r_impl and trained it.
SEARCH_PROBE = """
import json
from nnparity import bridge
from nnparity.cases import load_case
from nnparity.worker import Worker
worker = Worker()
worker.load("r", None, {}, None)
worker.port.start(load_case("article"))
worker.port.advance(2)
print(json.dumps(list(bridge.r()[0].r("search()"))))
"""


def test_an_r_worker_attaches_the_packages_rscript_attaches_and_no_other(r_available):
    """A port sees the functions Rscript's R sees: rpy2's help module, imported with
    rpy2.robjects, attached R's tools package, so a port calling file_path_sans_ext() without
    tools:: ran under nnparity and failed under Rscript (bridge._defer_rpy2s_help)."""
    import json
    import sys

    probe = subprocess.run([sys.executable, "-c", SEARCH_PROBE], capture_output=True,
                           text=True, cwd=ROOT)
    assert probe.returncode == 0, probe.stderr[-2000:]
    worker = json.loads(probe.stdout.splitlines()[-1])
    rscript = subprocess.run(["Rscript", "-e", 'cat(search(), sep = "\\n")'],
                             capture_output=True, text=True, check=True).stdout.split()
    assert worker == rscript, (
        f"R in a worker should have Rscript's search path: worker {worker}, Rscript {rscript}"
    )


def test_a_users_port_in_a_folder_named_variants_is_its_own_files_alone(tmp_path):
    # Any folder named `variants` was taken for an overlay of the folder above it, whose .R
    # files (a user's analysis, nothing of the port's) were sourced first.
    import shutil

    from nnparity.r_port import port_files

    project = tmp_path / "project"
    port = project / "variants" / "my_port"
    shutil.copytree(paths.R_IMPL, port, ignore=shutil.ignore_patterns("variants"))
    (project / "analysis.R").write_text('stop("not part of the port")\n')
    files = port_files(port)
    assert all(port in f.parents or f == port for f in files), (
        f"files outside {port} make the port: {[str(f) for f in files]}"
    )
    overlay = port_files(paths.R_VARIANTS / "article")
    assert paths.R_IMPL / "load.R" in overlay, f"r_impl's variants overlay r_impl: {overlay}"
