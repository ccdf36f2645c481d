"""The one error a user's input can cause: a ScenarioError naming file, line and field."""

from __future__ import annotations

__all__ = ["ScenarioError"]


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
