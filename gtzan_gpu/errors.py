"""The project's one user-facing error type.

Anything the user can fix (a bad path, option or file) raises :class:`GtzanError` with a one-line message
that names the file or option; the command line prints it without a traceback and exits with status 2.
"""


class GtzanError(Exception):
    """A clear, one-line error about the user's input; the CLI prints it and exits with status 2."""


def optional_module(name: str, purpose: str, extra: str):
    """``import name``, or a GtzanError ``"<purpose>: pip install 'gtzan-gpu[<extra>]'"`` where it is not installed
    (an optional extra's package: onnx, onnxruntime, webdataset, datasets)."""
    try:
        return __import__(name)
    except ImportError:
        raise GtzanError(f"{purpose}: pip install 'gtzan-gpu[{extra}]'") from None
