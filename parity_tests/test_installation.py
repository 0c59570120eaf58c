"""What is installed and the fix for what is not (nnparity/installation.py): the versions read
the way pip installed them, and the commands doctor and a run print.

An rpy2 of another version is a stand-in in a folder put first on PYTHONPATH: its package
and its distribution's metadata, shadowing the virtualenv's rpy2 in a child process only.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

from parity_tests.test_bad_input import run_subprocess
from parity_tests.test_doctor import run_doctor
from parity_tests.test_supervision import one_line


def fake_rpy2(site: Path, robjects: str, versions: dict[str, str]) -> dict[str, str]:
    """rpy2 as 3.6 lays it out, in `site`: a top-level package without __version__, the code
    `robjects` for rpy2.robjects, and distributions' metadata (name -> version). The
    environment of a child process that imports it first."""
    for part in ("rpy2", "rpy2/robjects", "rpy2/situation"):
        (site / part).mkdir(parents=True, exist_ok=True)
        (site / part / "__init__.py").write_text("")
    (site / "rpy2/robjects/__init__.py").write_text(robjects)
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
    return dict(os.environ, PYTHONPATH=str(site), COLUMNS="200")


RPY2_3_6 = {"rpy2": "3.6.9", "rpy2-rinterface": "3.6.7", "rpy2-robjects": "3.6.6"}
LOADS_R_4_5 = 'r = lambda code: ["R version 4.5.0 (a stand-in)"]\n'
NEEDS_R_4_5 = 'raise OSError("/usr/lib/R/lib/libR.so: undefined symbol: R_getVar")\n'


def test_doctor_accepts_an_rpy2_3_6_that_loads_its_r_and_names_its_version(tmp_path):
    done = run_doctor(fake_rpy2(tmp_path / "site", LOADS_R_4_5, RPY2_3_6))
    assert "ok      rpy2: rpy2 3.6.9 loads R version 4.5.0 (a stand-in)" in done.stdout, (
        "doctor refused an rpy2 3.6 that loads R (3.6's top-level rpy2 has no __version__):\n"
        + done.stdout
    )


def test_a_run_with_rpy2_3_6_on_r_4_2_is_refused_for_the_symbol_r_lacks(tmp_path):
    result = run_subprocess(fake_rpy2(tmp_path / "site", NEEDS_R_4_5, RPY2_3_6), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line(result.stderr, "rpy2 does not load", "R_getVar")
    assert "__version__" not in line, f"the reason given is not rpy2's real one: {line}"


def test_the_fingerprint_reads_rpy2s_version_without_rpy2_version_attribute(
    monkeypatch, r_available
):
    import rpy2

    from nnparity import fingerprint

    monkeypatch.delattr(rpy2, "__version__", raising=False)  # as rpy2 3.6's top-level package
    side = fingerprint.r_side()
    assert side.get("rpy2") == metadata.version("rpy2"), (
        f"the fingerprint's R side lost R for want of rpy2.__version__: {side}"
    )
