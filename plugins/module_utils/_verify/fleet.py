# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The targets, spread over worker processes (impacket is pure Python: one process per core) each
running a bounded pool of threads (impacket blocks), with a connect timeout and a total time per
target. The first logon the DC refuses under NTLM stops every further logon attempt, in every worker."""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import Job
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import FailureClass, HostResult
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import (
    Progress,
    RunOptions,
    StopFlag,
    host_result,
)

# A thread still busy this long after its target's time is up is left behind (its result: timeout).
GRACE_S: Final = 2.0
# A worker still running this long after its last target's time plus grace is killed.
WORKER_SLACK_S: Final = 30.0
TARGETS_PER_PROCESS: Final = 40


Work = Callable[[Job, StopFlag, Progress], None]


def run_shard(jobs: Sequence[Job], work: Work, stop: StopFlag, threads: int, target_timeout: float,
              names: Sequence[str], done: Callable[[Job, HostResult], None]) -> None:
    """Verify `jobs` with a bounded thread pool; `done` gets each target's result as soon as it is
    known. A target still running past its time plus a grace is reported as timed out and its thread
    left behind (the caller's process exits under it). Jobs are handed to the pool as threads free
    up, and nothing is kept of a finished one, so that a shard's time per target and memory are the
    same for 100 targets as for 10,000 (futures.wait is linear in the futures it is given)."""
    waiting = iter(jobs)
    futures: dict[Future[None], tuple[Job, Progress]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, threads))

    def hand_out(count: int) -> None:
        for job in itertools.islice(waiting, count):
            progress = Progress()
            futures[pool.submit(_guarded, work, job, stop, progress)] = (job, progress)

    def finish(future: Future[None], now: float, gave_up: bool) -> None:
        job, progress = futures.pop(future)
        done(job, host_result(job, progress, names, now, gave_up, target_timeout, stop.is_set()))

    try:
        hand_out(max(1, threads))
        while futures:
            finished, pending = wait(futures, timeout=0.25, return_when=FIRST_COMPLETED)
            now = time.monotonic()
            for future in finished:
                finish(future, now, False)
            for future in pending:
                started = futures[future][1].started
                if started and now > started + target_timeout + GRACE_S:
                    finish(future, now, True)
            # One new job per target finished or given up on (a thread given up on stays busy: its
            # job waits in the pool's queue until a thread frees up).
            hand_out(max(1, threads) - len(futures))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _guarded(work: Work, job: Job, stop: StopFlag, progress: Progress) -> None:
    try:
        work(job, stop, progress)
    except Exception as exc:  # a probe bug must cost one target, not the run
        error = f"verifier error: {type(exc).__name__}"
        progress.checks.setdefault("logon", failed("logon", FailureClass.ERROR, error, True))
        progress.unfinished = error


def run_fleet(jobs: Sequence[Job], work: Work, options: RunOptions, names: Sequence[str],
              stop: StopFlag | None = None, cleanup: Callable[[], None] = lambda: None) -> list[HostResult]:
    """Spread the jobs over forked worker processes, each with its share of the threads. Each worker
    sends every target's result as it finishes, so a worker killed at its deadline loses only the
    targets it had not finished. `cleanup` runs in each worker before it exits (e.g. to remove the
    ccaches it made)."""
    if not jobs:
        return []
    processes = options.processes or min(os.cpu_count() or 1, math.ceil(len(jobs) / TARGETS_PER_PROCESS))
    processes = max(1, min(processes, len(jobs)))
    threads = max(1, math.ceil(options.workers / processes))
    ctx = multiprocessing.get_context("fork")
    flag: StopFlag = stop if stop is not None else ctx.Event()
    shards = [list(jobs[i::processes]) for i in range(processes)]
    workers: list[tuple[Any, Connection, list[Job]]] = []
    for shard in shards:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, daemon=True,
                           args=(shard, work, flag, threads, options.target_timeout, names, sender, cleanup))
        proc.start()
        sender.close()
        workers.append((proc, receiver, shard))
    per_shard = max(len(s) for s in shards)
    deadline = time.monotonic() + math.ceil(per_shard / threads) * (options.target_timeout + GRACE_S) + WORKER_SLACK_S
    collected: dict[int, HostResult] = {}
    waiting = [receiver for _proc, receiver, _shard in workers]
    while waiting:
        ready = wait_connections(waiting, timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        for receiver in waiting[:]:
            if receiver in ready:
                try:
                    entry = receiver.recv()
                except (EOFError, OSError):  # the worker is done, or died: its missing targets are reported below
                    waiting.remove(receiver)
                    continue
                collected[entry["index"]] = entry["host"]
    for proc, receiver, _shard in workers:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        receiver.close()
    now = time.monotonic()
    out = []
    for job in jobs:
        host = collected.get(job.index)
        if host is None:
            reason = "the verifier's worker process for this target ended without a result"
            broken = Progress(checks={"logon": failed("logon", FailureClass.ERROR, reason, True)})
            host = host_result(job, broken, names, now, False, options.target_timeout, False)
        out.append(host)
    return out


def _worker(jobs: list[Job], work: Work, stop: StopFlag, threads: int, target_timeout: float,
            names: Sequence[str], sender: Connection, cleanup: Callable[[], None]) -> None:
    code = 0
    lock = threading.Lock()  # one message at a time on the pipe

    def send(job: Job, host: HostResult) -> None:
        with lock:
            sender.send({"index": job.index, "host": host})

    try:
        run_shard(jobs, work, stop, threads, target_timeout, names, send)
    except BaseException:
        code = 1
    finally:
        sender.close()
        cleanup()
        # Leave at once: threads given up on may still wait on a socket.
        os._exit(code)
