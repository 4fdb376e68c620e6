"""Coding in worker processes: ``PooledCodec`` runs a Codec's encode and decode in N processes (``aec compress -j``).

Each worker holds its own copy of the codec, the pickled one (``aec.api.Codec`` pickles by model id and weights tag),
so every worker writes the bytes this process would. Warnings a worker raises are raised again in the caller. From
Python (under ``if __name__ == "__main__":``, as any spawned pool needs):

    with PooledCodec(aec.Codec(threads=1), jobs=4) as pool:
        files = [result.data for result in pool.map("encode", images, quality=80)]
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import pickle
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from . import allocator
from .errors import AECError

__all__ = ["PooledCodec", "WorkersFailed"]


class WorkersFailed(Exception):
    """The worker processes cannot code: one could not load the model, or they stopped (killed, out of memory). No
    input's fault, so not an ``AECError``: every other input would fail the same way."""


class PooledCodec:
    """A Codec whose ``encode`` and ``decode`` run in ``jobs`` worker processes (spawned, each with the codec's
    threads: 1 unless it says otherwise); calls from several threads run at once."""

    def __init__(self, codec: Any, jobs: int):
        import multiprocessing

        self._codec = codec
        self.jobs = jobs
        # The codec's threads from the start: the variables reach the workers' BLAS (numpy's, torch's) as they start,
        # before either is loaded (the codec itself limits them only while it codes).
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(codec.threads or 1)
        # spawn, not fork: torch's thread pools do not survive a fork, and the workers start the same on every system.
        self._pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                            initializer=_start_worker,
                                                            initargs=(pickle.dumps(codec),))

    def check_quality(self, quality: float | None = None, *, model_quality: float | None = None) -> float:
        return self._codec.check_quality(quality, model_quality=model_quality)

    def writing_threads(self) -> int:
        """1: the workers take the cores; this process writes each output on one thread beside them."""
        return 1

    def encode(self, image: Any, **options: Any) -> Any:
        """``Codec.encode`` in a worker (the image as bytes, a path or an array: something that pickles)."""
        return self._answer(self._submit("encode", image, options))

    def decode(self, data: bytes, **options: Any) -> Any:
        """``Codec.decode`` in a worker."""
        return self._answer(self._submit("decode", data, options))

    def map(self, method: str, items: Iterable[Any], **options: Any) -> Iterator[Any]:
        """``method`` ("encode", "decode", "compress", "decompress_array", ...) of each item, in the items' order,
        ``jobs`` at a time, with at most twice as many items held (bounded memory for a long list)."""
        pending: collections.deque = collections.deque()
        try:
            for item in items:
                pending.append(self._submit(method, item, options))
                if len(pending) >= 2 * self.jobs:
                    yield self._answer(pending.popleft())
            while pending:
                yield self._answer(pending.popleft())
        finally:
            for future in pending:
                future.cancel()

    def ready(self) -> None:
        """Wait for a worker to have opened the codec; WorkersFailed if it cannot."""
        self._answer(self._pool.submit(_in_worker, None, (), {}))

    def close(self) -> None:
        """Wait for the calls under way, then end the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """End the workers now (an interrupted run): what they are coding is not waited for."""
        terminate = getattr(self._pool, "terminate_workers", None)  # Python 3.14
        if terminate is not None:
            terminate()
        else:
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    process.terminate()
        self.close()

    def __enter__(self) -> "PooledCodec":
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def _submit(self, method: str, item: Any, options: dict) -> concurrent.futures.Future:
        return self._pool.submit(_in_worker, method, (item,), options)

    @staticmethod
    def _answer(future: concurrent.futures.Future) -> Any:
        try:
            started, result, messages = future.result()
        except concurrent.futures.BrokenExecutor:
            # A worker that could not open the model (or was killed): the others would fail the same way.
            raise WorkersFailed("the -j worker processes stopped (could a worker not load the model, or run out of "
                                "memory?); try fewer jobs or -j 1") from None
        if not started:
            raise WorkersFailed(f"a -j worker process cannot load the model: {result}")
        for message in messages:
            warnings.warn(message, stacklevel=3)
        return result


_WORKER_CODEC: Any = None
_WORKER_FAILURE: str | None = None


def _start_worker(pickled_codec: bytes) -> None:
    """Open the codec in a worker: unpickled here, so that a model it cannot load is one message, no traceback."""
    global _WORKER_CODEC, _WORKER_FAILURE  # OMP_NUM_THREADS and the rest set by PooledCodec
    allocator.tune()  # an aec process of its own: kept heap pages instead of fresh ones for every array
    try:
        _WORKER_CODEC = pickle.loads(pickled_codec)
    except (AECError, OSError) as error:
        _WORKER_FAILURE = (error.strerror or str(error) or type(error).__name__) if isinstance(error, OSError) else str(error)


def _in_worker(method: str | None, args: tuple, options: dict) -> tuple[bool, Any, list[str]]:
    """(started, result or the reason the worker could not start, warnings raised) for one call in a worker (None:
    no call, only whether it started)."""
    if _WORKER_FAILURE is not None:
        return False, _WORKER_FAILURE, []
    if method is None:
        return True, None, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = getattr(_WORKER_CODEC, method)(*args, **options)
    return True, result, [str(warning.message) for warning in caught]
