"""Command modules: each registers its subcommands' parsers and holds thin handlers around a library call (the
remaining commands still live in :mod:`gtzan_gpu.cli`)."""
