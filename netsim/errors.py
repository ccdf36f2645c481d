"""The one error a user's input can cause: a ScenarioError naming file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ScenarioError", "read_user_text"]


class ScenarioError(Exception):
    """Invalid input, reported in one line: ``FILE:LINE: FIELD: what was expected``.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    file
        The scenario file, or a name such as ``<command line>``.
    line
        1-based line in ``file``, or None when there is no line (a missing file).
    field
        The field as a dotted path, such as ``network.links.bottleneck.capacity`` or
        ``streams[0].rate``; empty for the whole document.
    """

    def __init__(self, message: str, file: str = "", line: int | None = None, field: str = ""):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return " ".join(text.split())  # always one line


def read_user_text(path: str | os.PathLike[str], what: str) -> tuple[str, str]:
    """Read a file the user named as UTF-8 text: ``(name, text)``, or a one-line error.

    ``what`` names the kind of file in the message for a folder ("a scenario file"). A file
    that cannot be read gets ``line`` None; bytes that are not UTF-8 get their line.
    """
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError("no such file", name) from None
    except IsADirectoryError:
        raise ScenarioError(f"is a directory, not {what}", name) from None
    except PermissionError:
        raise ScenarioError("cannot read the file: permission denied", name) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", name) from None
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", name, line) from None
