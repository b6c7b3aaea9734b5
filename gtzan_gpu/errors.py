"""The project's one user-facing error type.

Anything the user can fix (a bad path, option or file) raises :class:`GtzanError` with a one-line message
that names the file or option; the command line prints it without a traceback and exits with status 2.
"""


class GtzanError(Exception):
    """A clear, one-line error about the user's input; the CLI prints it and exits with status 2."""
