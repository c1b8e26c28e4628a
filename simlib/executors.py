"""Where replications run: in this process, in a local process pool, or on a Dask cluster.

Every executor has the same small interface::

    with get_executor("local", workers=4) as ex:
        for result in ex.map(fn, tasks):        # results in the order of ``tasks``
            ...
        for index, result in ex.imap_unordered(fn, tasks):   # as soon as each one finishes
            ...

``fn`` must be a module-level function (it is sent to other processes by reference). A task of
the experiment layer is one (scenario, seed, replication); because a replication is a pure
function of those three, the results are identical bit for bit whichever executor runs them and
however many workers it has.

* ``local``: a :class:`concurrent.futures.ProcessPoolExecutor`, sized to the machine by default
  (the CPUs this process may use). With one worker the tasks run in this process, one after the
  other, which is also what happens when there is a single task. A worker process that dies
  (killed, out of memory) breaks the pool; the tasks that had not returned then run again on a
  fresh pool, up to ``LocalExecutor.restarts`` times, after which a :class:`SimlibError` names
  them.
* ``dask``: :mod:`dask.distributed`. ``scheduler="tcp://HOST:8786"`` connects to a running
  cluster; without an address a :class:`distributed.LocalCluster` of ``workers`` single-threaded
  worker processes is started here and stopped by :meth:`Executor.close`. Workers of a remote
  cluster may not see this machine's disk, so with Dask the results come back to this process,
  which writes them (``writes_on_workers`` is False). A worker process that dies mid-task (killed,
  out of memory) costs nothing but time: the scheduler runs its tasks again on another worker,
  and a task that raised is retried ``DaskExecutor.retries`` times; the results are the same.
  A :class:`UserInputError` is not retried (bad input stays bad): it is raised at once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import SimlibError, UserInputError

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "available_cpus",
    "get_executor",
]

EXECUTORS = ("local", "dask")


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs ``fn(task)`` for many tasks. Subclasses implement :meth:`imap_unordered`."""

    #: name given to :func:`get_executor`
    name: str = "executor"
    #: True when workers share this process's file system (they may write the cache themselves)
    writes_on_workers: bool = True

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index of the task, fn(task))`` as each task finishes.

        An exception raised by ``fn`` is raised here, when its result is reached.
        """
        raise NotImplementedError

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(task)`` for every task, in the order of ``tasks``."""
        pending: dict[int, Any] = {}
        next_index = 0
        for index, result in self.imap_unordered(fn, tasks):
            pending[index] = result
            while next_index in pending:
                yield pending.pop(next_index)
                next_index += 1

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} workers={self.workers}>"


class LocalExecutor(Executor):
    """A local process pool of ``workers`` processes (1: run in this process).

    The pool is created on first use and reused until :meth:`close`. Worker processes are forked
    where the platform allows it, so mechanisms registered at run time (with
    :func:`simlib.engine.register_actor`) exist in the workers too.
    """

    name = "local"
    writes_on_workers = True
    #: times the pool is started afresh after a worker process died, before giving up
    restarts: int = 2

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(available_cpus() if workers is None else workers)
        if self.workers < 1:
            raise UserInputError(f"workers must be >= 1, got {self.workers}")
        self._pool: Any = None

    def _get_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any]
    ) -> Iterator[tuple[int, Any]]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            for index, task in enumerate(tasks):
                yield index, fn(task)
            return
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        remaining = dict(enumerate(tasks))  # tasks that have not returned yet
        restarts = 0
        while remaining:
            pool = self._get_pool()
            futures: dict[Any, int] = {}
            broken = False
            try:
                try:
                    for index, task in remaining.items():
                        futures[pool.submit(fn, task)] = index
                except BrokenProcessPool:
                    broken = True
                for future in as_completed(list(futures)):
                    index = futures.pop(future)
                    exc = future.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True  # a worker died: this task runs again on a fresh pool
                        continue
                    if exc is not None:
                        raise exc
                    del remaining[index]
                    yield index, future.result()
            finally:
                for future in futures:
                    future.cancel()
            if not broken:
                break
            # a worker process died (killed, out of memory): the pool is unusable; start afresh
            # and run again what had not returned (a replication is a pure function of its task)
            self._discard_pool()
            restarts += 1
            if restarts > self.restarts:
                times = f"{restarts} time{'s' if restarts > 1 else ''}"
                raise SimlibError(
                    f"local worker processes died {times} (killed, or out of memory?) "
                    f"while running {_describe(list(remaining.values()))}; run with fewer "
                    "workers (--workers) or a smaller scenario"
                )

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _describe(tasks: list[Any], limit: int = 10) -> str:
    """Tasks named for a message: ``scenario replication r`` when they have those attributes."""
    names = []
    for task in tasks[:limit]:
        replication = getattr(task, "replication", None)
        scenario = getattr(getattr(task, "scenario", None), "name", None)
        if replication is None:
            names.append(repr(task)[:60])
        elif scenario is None:
            names.append(f"replication {replication}")
        else:
            names.append(f"{scenario} replication {replication}")
    more = f" and {len(tasks) - limit} more" if len(tasks) > limit else ""
    return f"{len(tasks)} task(s): " + ", ".join(names) + more


class _Raised:
    """A :class:`UserInputError` caught on a Dask worker, sent back as a value so that the
    scheduler does not retry it (bad input fails the same way every time)."""

    def __init__(self, error: UserInputError) -> None:
        self.error = error


def _no_retry_of_input_errors(fn: Callable[[Any], Any], task: Any) -> Any:
    try:
        return fn(task)
    except UserInputError as exc:
        return _Raised(exc)


class DaskExecutor(Executor):
    """Tasks on a :mod:`dask.distributed` cluster (``scheduler`` address, or a LocalCluster)."""

    name = "dask"
    writes_on_workers = False
    #: times a task is re-run after an error before the error is reported
    retries: int = 2

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the installation
            raise UserInputError(
                "the dask executor needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        import logging

        self._cluster: Any = None
        if scheduler:
            try:
                self._client: Any = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise UserInputError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); give an address "
                    "such as tcp://HOST:8786 of a running scheduler"
                ) from None
            n = len(self._client.scheduler_info().get("workers", {})) or 1
            super().__init__(n if workers is None else workers)
        else:
            n = available_cpus() if workers is None else workers
            if n < 1:
                raise UserInputError(f"workers must be >= 1, got {n}")
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            super().__init__(n)

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client` in use."""
        return self._client

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any]
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        # a task whose worker dies is re-run elsewhere by the scheduler; ``retries`` also re-runs
        # one that raised (a replication is a pure function of its task: same result), except
        # for a UserInputError, which comes back as a value and is raised here at once
        futures = self._client.map(
            functools.partial(_no_retry_of_input_errors, fn),
            tasks,
            pure=False,
            retries=self.retries,
        )
        index_of = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                result = future.result()
                index = index_of[future.key]
                future.release()
                if isinstance(result, _Raised):
                    raise result.error
                yield index, result
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def get_executor(
    name: str = "local", workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """An executor by name: ``local`` (process pool; default) or ``dask``.

    ``workers``: processes to use (default: the CPUs available here; for a running Dask cluster,
    its workers). ``scheduler``: address of a running Dask scheduler (``dask`` only).
    """
    if workers is not None and workers < 1:
        raise UserInputError(f"workers must be >= 1, got {workers}")
    if scheduler and name != "dask":
        raise UserInputError(
            f"a scheduler address is for the dask executor, not {name!r}; use executor 'dask'"
        )
    if name == "local":
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(workers, scheduler)
    raise UserInputError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
