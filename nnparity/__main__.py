"""``nnparity`` and ``python -m nnparity``: start a run's workers, then the command line."""

import sys

from . import signals, spawn


def main() -> int:
    signals.catch_signals()  # from the first moment: Ctrl-C or SIGTERM during start-up too
    try:
        spawn.early(sys.argv[1:])  # before the harness's imports: the workers warm up meanwhile
        from .cli import main as command_line

        return command_line()  # which says how a run was stopped, once it has begun
    except (KeyboardInterrupt, signals.Interrupted) as stop:  # before that, or after it
        message, code = signals.stopped(stop)
        print(f"nnparity: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
