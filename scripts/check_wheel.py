"""The wheel, as a user gets it (tox -e wheel).

Builds the wheel, checks that it carries the harness, both ports and the cases
inside the nnparity package (and no top-level python_impl), installs it into a
fresh virtualenv, and from a scratch folder outside the repository runs:

  nnparity run --case article          exit 0
  nnparity doctor                      exit 0
  pytest --r-impl my_port/             exit 0 on a copy of r_impl
  pytest --r-impl my_port/ (bout wrong) exit 1, naming test_step[article-lockstep-11-bout]

Each phase prints what it does and how long it took; the first failure stops
the script with exit code 1 and what went wrong.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tools/: this script's own helpers, not what is checked
from tools.port_copy import NotExactlyOnce, change_once, copy_port  # noqa: E402

#: Repository folder -> its place in the wheel.
SHIPPED = {"nnparity": "nnparity", "python_impl": "nnparity/python_impl",
           "r_impl": "nnparity/r_impl", "fixtures": "nnparity/fixtures"}
SKIPPED = ("__pycache__", ".pyc", ".Rhistory")
WRONG_AXIS = ("bout + colSums(d_output) * lr", "bout + rowSums(d_output) * lr")
BOUT_TEST = "nnparity/parity_suite.py::test_step[article-lockstep-11-bout]"


class CheckFailed(Exception):
    pass


def phase(title: str):
    print(f"\n==> {title}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    ({time.monotonic() - started:.1f} s)", flush=True)


def run(command: list[str], cwd: Path, expect: int = 0, show: bool = True):
    print(f"    $ {' '.join(str(c) for c in command)}   (in {cwd})", flush=True)
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if show:
        print("    " + "\n    ".join((result.stdout + result.stderr).rstrip().splitlines()[-12:]))
    if result.returncode != expect:
        raise CheckFailed(
            f"{command[0]} {' '.join(command[1:3])} exited {result.returncode}, "
            f"expected {expect}:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def tracked_files() -> list[str]:
    """Every file the wheel must carry, as its path inside the wheel."""
    expected = []
    for folder, target in SHIPPED.items():
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT / folder)
            if path.is_file() and not any(s in str(path) for s in SKIPPED):
                if folder == "nnparity" and relative.parts[0] in SHIPPED:
                    continue  # a wheel's leftovers in a checkout, not sources
                expected.append(f"{target}/{relative.as_posix()}")
    return expected


def build(work: Path) -> Path:
    started = phase("build the wheel (python -m build --wheel)")
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
        cwd=ROOT,
        show=False,
    )
    wheels = list((work / "dist").glob("nnparity-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one wheel in {work / 'dist'}, found {wheels}")
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
    missing = [name for name in tracked_files() if name not in names]
    if missing:
        raise CheckFailed(
            f"the wheel lacks {len(missing)} files: {missing[:10]} "
            "(add their patterns to [tool.setuptools.package-data])"
        )
    stray = sorted({n.split("/")[0] for n in names if ".dist-info/" not in n} - {"nnparity"})
    if stray:
        raise CheckFailed(f"the wheel installs top-level names besides nnparity: {stray}")
    print(
        f"    {wheels[0].name}: {len(names)} files; harness, python_impl, r_impl and fixtures "
        "inside nnparity/, nothing else at the top level"
    )
    done(started)
    return wheels[0]


def install(wheel: Path, work: Path) -> Path:
    """A fresh virtualenv with the wheel (not editable) and pytest, nothing of the repository.

    uv when it is there (tox -e wheel installs it): it links packages from its cache, where
    pip copies them (about 100 s on two busy cores); the venv is as fresh either way.
    """
    started = phase("a fresh virtualenv, the wheel and pytest installed into it")
    venv = work / "venv"
    python = str(venv / "bin" / "python")
    if shutil.which("uv"):
        run(["uv", "venv", "--quiet", str(venv)], cwd=work, show=False)
        run(
            ["uv", "pip", "install", "--quiet", "--python", python, str(wheel), "pytest"],
            cwd=work,
            show=False,
        )
    else:
        run([sys.executable, "-m", "venv", str(venv)], cwd=work, show=False)
        run(
            [python, "-m", "pip", "install", "--progress-bar", "off", str(wheel), "pytest"],
            cwd=work,
            show=False,
        )
    done(started)
    return venv / "bin"


def use(bin_dir: Path, scratch: Path) -> None:
    started = phase(f"use it from {scratch}, outside the repository")
    run([str(bin_dir / "nnparity"), "run", "--case", "article"], cwd=scratch)
    run([str(bin_dir / "nnparity"), "doctor"], cwd=scratch)
    probe = run(
        [str(bin_dir / "python"), "-c", "import python_impl"], cwd=scratch, expect=1, show=False
    )
    if "No module named 'python_impl'" not in probe.stderr:
        raise CheckFailed(f"`import python_impl` failed otherwise than expected: {probe.stderr}")
    print("    `import python_impl` fails: the port is nnparity.python_impl only")
    done(started)


def plugin(bin_dir: Path, scratch: Path) -> None:
    started = phase(
        "pytest --r-impl my_port/ on a copy of r_impl, then with a bias summed over the wrong axis"
    )
    port = copy_port(ROOT / "r_impl", scratch / "my_port")
    pytest = [str(bin_dir / "pytest"), "-p", "no:cacheprovider", "--r-impl", "my_port/"]
    run([*pytest, "-q"], cwd=scratch)
    try:
        change_once(port, "steps.R", *WRONG_AXIS, label="r_impl")
    except NotExactlyOnce as error:
        raise CheckFailed(f"{error}: update this script") from None
    failed = run([*pytest, "--nnparity-case", "article", "-q", "-rf"], cwd=scratch, expect=1)
    if f"FAILED {BOUT_TEST}" not in failed.stdout:
        raise CheckFailed(f"the wrong-axis bias did not fail {BOUT_TEST}:\n{failed.stdout}")
    print(f"    the wrong-axis bias fails {BOUT_TEST}")
    done(started)


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="nnparity-wheel-"))
    try:
        wheel = build(work)
        bin_dir = install(wheel, work)
        scratch = work / "scratch"
        scratch.mkdir()
        use(bin_dir, scratch)
        plugin(bin_dir, scratch)
    except CheckFailed as error:
        print(f"\nwheel check FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwheel check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
