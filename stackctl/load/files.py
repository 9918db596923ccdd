"""Reading the stack files a command names: each file (or stdin, `-`) read once, by this module only.

The load parses what it reads once (pipeline.load_stack); what a caller wants from the files, such
as the stack name a Compose Specification file declares (`LoadedStack.declared_name`), it takes
from that one load, never by reading a file again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import BinaryIO

from stackctl.errors import Diagnostic, LoadError

STDIN_NAME = "<stdin>"


def read_source(name: str, stdin: BinaryIO | None = None) -> tuple[str, bytes]:
    """(display name, bytes) of a -c argument; `-` is stdin (`stdin`, else the process's)."""
    if name == "-":
        return STDIN_NAME, (stdin or sys.stdin.buffer).read()
    try:
        with open(name, "rb") as handle:
            return name, handle.read()
    except FileNotFoundError:
        raise LoadError(diagnostics=[Diagnostic("no such file", name)]) from None
    except IsADirectoryError:
        raise LoadError(diagnostics=[Diagnostic("is a directory, not a stack file", name)]) from None
    except OSError as err:
        raise LoadError(diagnostics=[Diagnostic(f"cannot read: {err.strerror}", name)]) from None


def working_dir_for(files: Sequence[str]) -> str:
    """Relative paths in the files are relative to the first file's folder (stdin: the current one)."""
    first = files[0]
    if first == "-":
        return os.getcwd()
    return os.path.dirname(os.path.abspath(first))
