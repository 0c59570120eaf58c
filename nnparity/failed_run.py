"""What `run --json` prints when the run ends without a verdict.

Standard library only: it is printed when a signal cut an import short (numpy's, whose
second import in a process fails) and when a declared dependency is missing.
"""

from __future__ import annotations

#: The keys of `run --json`'s object, in order, whether the run reached its verdict
#: (report.as_json) or not (failed_run_json): docs/results-as-data.md lists them.
KEYS = ("case", "epochs", "passed", "verdict", "environment", "saved_traces", "saved_stats",
        "calls", "determinism", "modes_asked", "modes", "error")


def in_order(document: dict) -> dict:
    """`document` with exactly KEYS, in their order (a KeyError for a key it lacks)."""
    extra = set(document) - set(KEYS)
    if extra:
        raise KeyError(f"not a key of run --json: {', '.join(sorted(extra))}")
    return {key: document[key] for key in KEYS}


def failed_run_json(case: str | None, code: int, message: str, known: dict | None = None) -> dict:
    """What `run --json` prints when the run ends without a verdict (bad input, a port that
    failed, ended or hung, a signal): report.as_json's keys, with nothing compared, and
    ``error``: the exit code and stderr's line. The case, epochs and modes as far as known
    (``known``; none for a signal before the command line was read: __main__)."""
    known = known or {}
    return in_order({
        "case": case,
        "epochs": known.get("epochs"),
        "passed": False,
        "verdict": None,
        "environment": None,
        "saved_traces": [],
        "calls": [],
        "modes": {},
        "determinism": {},
        "saved_stats": None,
        "modes_asked": known.get("modes_asked"),
        "error": {"exit_code": code, "message": message},
    })


def json_asked(argv: list[str]) -> bool:
    """Whether `argv` is `run ... --json`: whatever happens, one document on stdout."""
    return "--json" in argv and next((a for a in argv if not a.startswith("-")), None) == "run"


def print_failed_run(argv: list[str], code: int, message: str) -> None:
    """`run --json`'s document for a run stopped before its command line was read (a
    signal, a missing dependency: __main__) or while it was (a mistake in it: cli)."""
    import json

    case = argv[argv.index("--case") + 1] if "--case" in argv[:-1] else None
    print(json.dumps(failed_run_json(case, code, message)))
