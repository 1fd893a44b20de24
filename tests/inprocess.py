"""``netspace ARGS`` run in this process, for tests of error paths: the same ``cli.main`` as the console
script, without the seconds a new interpreter spends importing torch."""

from __future__ import annotations

import contextlib
import io
import subprocess


def run_main(*args: str) -> subprocess.CompletedProcess:
    """(exit status, stdout, stderr) of ``netspace ARGS`` as a CompletedProcess; argparse's exits included."""
    from netspace.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse: usage and exit 2
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(["netspace", *args], code, out.getvalue(), err.getvalue())
