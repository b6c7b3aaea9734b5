"""``gtzan-gpu launch``: torchrun for gtzan-gpu's own commands, whose failures end as the command's would.

``gtzan-gpu launch [TORCHRUN OPTIONS] COMMAND [COMMAND OPTIONS]`` runs ``torchrun [TORCHRUN OPTIONS] -m gtzan_gpu
COMMAND ...`` in this process (``torch.distributed.run``: the same elastic agent, rendezvous and options), with
what the plain ``torchrun`` adds on a failure left out: its ``ChildFailedError`` traceback and summary, the agent's
log lines about the failed workers, and the exit status 1 it gives whatever the workers returned. The ranks say
what went wrong themselves (rank 0 once for an error every rank meets, a rank its own error), and the exit status
is the first failed rank's: 2 for bad input, as in one process.
"""
from __future__ import annotations

import contextlib
import io
import logging
import sys

from gtzan_gpu.errors import GtzanError

DISTRIBUTED_COMMANDS = ("train", "evaluate")  # the commands that run as torchrun ranks
QUIETED_LOGGERS = ("torch.distributed.run", "torch.distributed.elastic", "torch.distributed.launcher")
USAGE = ("usage: gtzan-gpu launch [TORCHRUN OPTIONS] {train,evaluate} [OPTIONS]\n\n"
         "Run a gtzan-gpu command as torchrun ranks (e.g. gtzan-gpu launch --standalone --nproc-per-node 8 train "
         "--data STORE ...).\nTORCHRUN OPTIONS are torchrun's own (python -m torch.distributed.run --help); a failure "
         "is one line from the ranks and the first failed rank's exit status (2 for bad input).")


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """``[TORCHRUN OPTIONS] COMMAND [COMMAND OPTIONS]`` -> (torchrun's options, the command and its options): the
    command is the first word that names one of :data:`DISTRIBUTED_COMMANDS`."""
    for position, word in enumerate(argv):
        if word in DISTRIBUTED_COMMANDS:
            return argv[:position], argv[position:]
    raise GtzanError(f"name the command to run as ranks ({' or '.join(DISTRIBUTED_COMMANDS)}) after torchrun's "
                     f"options, e.g. gtzan-gpu launch --standalone --nproc-per-node 2 train --data DATA")


def torchrun_arguments(torchrun_options: list[str], command: list[str]):
    """torchrun's parsed arguments for ``-m gtzan_gpu COMMAND ...``; its own usage errors become one line."""
    from torch.distributed import run as torchrun

    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return torchrun.parse_args([*torchrun_options, "--module", "gtzan_gpu", *command])
    except SystemExit:
        lines = [line for line in said.getvalue().splitlines() if line.strip()]
        reason = lines[-1].split("error: ", 1)[-1] if lines else "bad torchrun options"
        raise GtzanError(f"torchrun options: {reason}") from None


NPROC_WORDS = ("auto", "cpu", "gpu", "xpu")


def check_nproc_per_node(value: str) -> None:
    """torchrun takes a positive count or one of its words; anything else is one line here, not its traceback."""
    if str(value) in NPROC_WORDS:
        return
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise GtzanError(f"--nproc-per-node {value}: give a positive number of ranks per machine (or "
                         f"{', '.join(NPROC_WORDS)})")


def launch(argv: list[str], verbose: bool = False) -> int:
    """Run ``argv`` (see the module docstring) and return the exit status: 0, or the first failed rank's."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed import run as torchrun

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    arguments = torchrun_arguments(*split_argv(argv))
    check_nproc_per_node(arguments.nproc_per_node)
    if not verbose:  # the ranks speak for themselves; the agent's failure report is what is left out
        for name in QUIETED_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    from torch.distributed.elastic.multiprocessing.api import SignalException

    try:
        torchrun.run(arguments)
    except SignalException as stopped:  # Ctrl-C or a TERM to the agent: the ranks are stopped by torchrun
        signal_number = int(stopped.sigval)
        print(f"gtzan-gpu launch: interrupted by {stopped.sigval.name}; the ranks were stopped (a train run "
              f"continues with --resume)", file=sys.stderr)
        return 128 + signal_number
    except ChildFailedError as failed:
        rank, failure = failed.get_first_failure()
        if failure.exitcode in (1, 2, 130):  # our own statuses: the rank has already said why
            return failure.exitcode
        print(f"gtzan-gpu launch: error: rank {rank} ended with status {failure.exitcode} "
              f"({'a signal' if failure.exitcode < 0 else 'see its output above'})", file=sys.stderr)
        return 1
    return 0
