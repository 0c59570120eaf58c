"""Tooling around nnparity that is not part of its runtime: the mutation self-check
(``python -m tools.mutants``) and the one helper that copies a port with one change."""
