"""Errors that mattebox raises for bad input.

Every error carries one sentence saying what is wrong and how to fix it; the CLI prints that
sentence and exits with status 2, with no traceback.
"""

from __future__ import annotations


class MatteboxError(Exception):
    """Base class of the errors mattebox raises on purpose."""


class InputError(MatteboxError, ValueError):
    """An input (array, file, option) is unusable as given; the message says how to fix it."""


class ImageReadError(InputError):
    """A file could not be read as an image (missing, unreadable, truncated, too large)."""


class OutputError(MatteboxError, OSError):
    """An output could not be written (folder not writable, would overwrite an input)."""
