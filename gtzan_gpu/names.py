"""Names that become folder names or command-line choices (models, front ends, corpus sources, grids, recipes):
one rule, so a plugin cannot name a model ``../../x`` and send a run folder outside ``runs/``."""
from __future__ import annotations

import re

from gtzan_gpu.errors import GtzanError

REGISTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def check_path_component(name: str, what: str) -> None:
    """``name`` names one folder (results, run folders): no separator, not ``.`` or ``..``, not hidden."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise GtzanError(f"{what} {name!r} must be one folder name (no '/', '\\', leading '.' or NUL)")


def check_registry_name(name: str, what: str) -> None:
    """A registry entry's name: letters, digits, ``- _ . +``, starting with a letter or digit, at most 64 long."""
    if not isinstance(name, str) or not REGISTRY_NAME.fullmatch(name):
        raise GtzanError(f"{what} name {name!r} is not allowed (letters, digits, '-', '_', '.', '+'; starting with a "
                         f"letter or digit; at most 64)")
