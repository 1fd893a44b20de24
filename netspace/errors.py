"""Errors a user can cause and fix.

Every exception raised for bad input derives from :class:`NetspaceError`; its
message is one line that names the problem and, where there is one, the fix.
The CLI prints such messages to stderr and exits with status 2, with no
traceback. Anything else escaping is a bug.
"""


class NetspaceError(Exception):
    """Base class of all user-facing errors."""


class SpecError(NetspaceError, ValueError):
    """A network spec, or the parameters that generate one, is invalid."""


class UnknownModelError(NetspaceError, KeyError):
    """A model name is not in the zoo."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
