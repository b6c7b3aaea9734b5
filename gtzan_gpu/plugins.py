"""Entry-point plugins: models, front ends and corpus sources from the user's own installed packages.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."gtzan_gpu.models"]
    mynet = "my_package.models:MYNET"          # a gtzan_gpu.models.registry.ModelSpec
    [project.entry-points."gtzan_gpu.frontends"]
    gammatone = "my_package.frontends:GAMMATONE"  # a gtzan_gpu.features.registry.FrontendSpec
    [project.entry-points."gtzan_gpu.corpus_sources"]
    lakehouse = "my_package.data:LAKEHOUSE"    # a gtzan_gpu.data.corpus.CorpusSource (another kind of DATA)

:func:`load_all` registers the groups once, after the built-in entries (the command line calls it first), so a
plugin's name is a ``--model`` / ``--frontend`` choice and ``doctor``, ``bench`` and ``export`` see it like a
built-in one, and a plugin corpus source is asked about every DATA after the built-in sources. Front ends load
before models, so a plugin model may name a plugin front end. A plugin that fails to load, or is not the expected
spec, is reported in one warning line and skipped; it never stops the command.
"""
from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Callable

log = logging.getLogger(__name__)


def load_plugins(group: str, spec_type: type, register: Callable) -> list[str]:
    """Register every entry point of ``group`` whose object is a ``spec_type`` (or a function returning one);
    returns the names registered."""
    registered = []
    for entry in entry_points(group=group):
        try:
            spec = entry.load()
            if callable(spec) and not isinstance(spec, spec_type):
                spec = spec()
            if not isinstance(spec, spec_type):
                raise TypeError(f"{entry.value} is a {type(spec).__name__}, not a {spec_type.__name__}")
            register(spec)
            registered.append(spec.name)
        except (Exception, SystemExit, KeyboardInterrupt) as error:  # a third party's code: report it, go on
            # (sys.exit() or a KeyboardInterrupt raised at import would otherwise end every command, --help too)
            reason = str(error).splitlines()[0][:200] if str(error).strip() else type(error).__name__
            log.warning("plugin %s (%s) skipped: %s", entry.name, group, reason)
    return registered


_LOADED: set[str] = set()


def load_all() -> None:
    """Load every group once per process (the command line calls it before reading any choice; a program that
    embeds gtzan_gpu calls it, or registers its specs itself)."""
    from gtzan_gpu.data.corpus import CorpusSource
    from gtzan_gpu.data.sources import register_corpus_source
    from gtzan_gpu.features.registry import FrontendSpec, register_frontend
    from gtzan_gpu.models.registry import ModelSpec, register_model

    for group, spec_type, register in (("gtzan_gpu.corpus_sources", CorpusSource, register_corpus_source),
                                       ("gtzan_gpu.frontends", FrontendSpec, register_frontend),
                                       ("gtzan_gpu.models", ModelSpec, register_model)):
        if group not in _LOADED:
            _LOADED.add(group)
            load_plugins(group, spec_type, register)
