"""The error hierarchy and the one place where errors become exit codes.

Every error a user can cause says what was asked, what is allowed and how to fix it, in one
line, and never carries an SSIN or anything derived from one. An :class:`InternalError` is a
broken assumption inside herkomst: its message says so ("this is probably a bug").

Exit codes (documented in ``docs/cli.md``):

====  =====================================================================
0     success
1     a protection, audit, or validation check failed (the output says which)
2     bad input or usage: a missing file or column, an unreadable file, a bad option
3     internal error: this is a bug
====  =====================================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    INTERNAL = 3


class HerkomstError(Exception):
    """Base class of every error herkomst raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        # One line: a user-facing message never spans lines.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class InputError(HerkomstError):
    """The input cannot be used: a file, a column, a value or an option is wrong."""

    exit_code = ExitCode.BAD_INPUT


class MissingFile(InputError):
    """A required input file does not exist."""


class MissingColumn(InputError):
    """A required column is absent from an input file."""


class UnreadableFile(InputError):
    """A file exists but cannot be read as the format it claims to be."""


class RuleError(InputError):
    """A rule table (bundled or user-supplied) is invalid; herkomst fails closed."""


class UsageError(InputError):
    """A command-line option or a library argument is not allowed."""


class AuthorizationError(InputError):
    """A delivery asks for something its authorization does not allow."""


class CheckFailed(HerkomstError):
    """A check ran and found a problem: validation rejections, a failed audit."""

    exit_code = ExitCode.CHECK_FAILED


class InternalError(HerkomstError):
    """An assumption inside herkomst does not hold."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(f"{message} (this is probably a bug in herkomst; please report it)")
