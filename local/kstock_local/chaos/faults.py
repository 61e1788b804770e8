"""The faults themselves: signals to the stack's processes."""

from __future__ import annotations

import signal

import psutil


def kill_hard(process: psutil.Process) -> None:
    """``kill -9``: no handler runs, nothing is flushed."""
    process.send_signal(signal.SIGKILL)


def freeze(processes: list[psutil.Process]) -> list[psutil.Process]:
    """SIGSTOP each process (in order: a parent first, so it forks no child that escapes); the
    ones that were still there to stop."""
    frozen = []
    for process in processes:
        try:
            process.send_signal(signal.SIGSTOP)
            frozen.append(process)
        except psutil.NoSuchProcess:
            continue
    return frozen


def thaw(processes: list[psutil.Process]) -> None:
    """SIGCONT each process (children first, the parent last)."""
    for process in reversed(processes):
        try:
            process.send_signal(signal.SIGCONT)
        except psutil.NoSuchProcess:
            continue
