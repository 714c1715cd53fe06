"""Step processes die with the process that launched their run.

Preloaded by the multiprocess executor's forkserver only (definitions.py lists it last in
`preload_modules`, after the heavy libraries), never imported elsewhere: importing it is what arms it.
The forkserver's parent is the run's launching process (`ytingest ingest`, or a run worker). When that
process is killed (kill -9, a closed terminal), Python's forkserver does not notice while it has
children, and its step processes, re-parented to init, go on writing under a run nobody watches, and,
once the run's `gpu` slot is freed, run beside the next run's GPU step. So:

- the forkserver checks its parent every CHECK_SECONDS (SIGALRM in its own single thread, which its
  select loop services) and exits once it has been re-parented;
- each step process it forks asks the kernel for SIGKILL when the forkserver exits (PR_SET_PDEATHSIG),
  so a step blocked in a database call or a model's C code stops too, and its open transaction is
  rolled back by the server.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CHECK_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1

_launcher = os.getppid()
_forkserver = os.getpid()


def _launcher_gone(signum, frame) -> None:
    if os.getppid() != _launcher:
        os._exit(0)


def _die_with_forkserver() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)  # not inherited anyway; the step must never get our SIGALRM
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _forkserver:  # the forkserver died before the line above took effect
        os._exit(1)


signal.signal(signal.SIGALRM, _launcher_gone)
# Restart interrupted system calls: the alarm must not make a read in some library fail with EINTR.
# The forkserver's select() returns on the signal regardless, so the check still runs.
signal.siginterrupt(signal.SIGALRM, False)
signal.setitimer(signal.ITIMER_REAL, CHECK_SECONDS, CHECK_SECONDS)
os.register_at_fork(after_in_child=_die_with_forkserver)
