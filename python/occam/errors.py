"""Occam's exceptions. Every error Occam raises is an :class:`OccamError` carrying
Occam's own message (which names the argument, option or file at fault, the value and
what is valid), and also derives from the built-in exception that fits it, so
``except ValueError`` and ``except OSError`` work as usual:

=======================  ===================================  =====================================
class                    also a                               raised for
=======================  ===================================  =====================================
``InvalidInputError``    ``ValueError``                       a bad argument: wrong shape, dtype,
                                                              out-of-range value, unknown key
``FileFormatError``      ``ValueError``                       a file that is not what Occam reads
                                                              (bad safetensors, foreign store)
``FileAccessError``      ``OSError``                          a file that cannot be opened,
                                                              read or written
``NonFiniteError``       ``ArithmeticError``                  NaN or infinite arithmetic: Occam
                                                              never returns such a value as a number
``CancelledError``       (only ``OccamError``)                a run stopped by its progress callback
=======================  ===================================  =====================================

Ctrl-C during a computation raises the usual ``KeyboardInterrupt``.
"""

__all__ = [
    "OccamError",
    "InvalidInputError",
    "FileFormatError",
    "FileAccessError",
    "NonFiniteError",
    "CancelledError",
]


class OccamError(Exception):
    """Base class of every error Occam raises."""


class InvalidInputError(OccamError, ValueError):
    """An argument Occam cannot use: its message names it, its value and what is valid."""


class FileFormatError(OccamError, ValueError):
    """A file that exists but is not what Occam can read; the message names the file."""


class FileAccessError(OccamError, OSError):
    """A file that could not be opened, read or written; the message names the file."""


class NonFiniteError(OccamError, ArithmeticError):
    """A computation overflowed to NaN or infinity (weights or inputs too large)."""


class CancelledError(OccamError):
    """A run stopped because its progress callback returned False."""
