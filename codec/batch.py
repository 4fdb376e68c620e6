"""Coding many files: "compress these files with N workers" from Python, and the runner under ``aec compress`` and
``aec decompress``.

``compress_files`` and ``decompress_files`` take paths (or folders, with ``recursive``), plan each output (next to its
input, into a folder, or one named file; ``aec.outputs`` names and writes them, never over a file unless ``force``),
choose the worker processes (``jobs``: None chooses by the work the inputs hold, 0 is one per core) and return one
``Outcome`` per input, in input order, after calling ``on_outcome`` with each as it is done. A file's failure is its
outcome's ``error`` and the others go on; what no file can survive (the model cannot be loaded, the workers died)
raises. Under ``if __name__ == "__main__":`` when ``jobs`` may start workers (they are spawned):

    outcomes = compress_files(["a.png", "b.png"], "out/", quality=80, jobs=2)
    failed = [outcome.source for outcome in outcomes if not outcome.ok]

``'-'`` stands for stdin as an input and stdout as the output. Torch is imported only to refine (effort above 0).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ContextManager

from .bitstream import DEFAULT_MAX_PIXELS, MAGIC, AECError, check_coder_version, parse
from .errors import OutputError, reason
from .inputs import input_limit, read_path, read_stream
from .outputs import (AEC_SUFFIX, is_terminal, compressed_name, decompressed_name, encode_image, named_format,
                      normalise, output_format, same_file, special_kind, write_all, write_file)
from .pool import PooledCodec, WorkersFailed

__all__ = ["Batch", "BatchError", "BatchUsageError", "FatalError", "Outcome", "WorkersFailed", "compress_files",
           "decompress_files", "expand", "held"]

STDIO = "-"
# jobs=None: one worker per core once the inputs hold this much work, else 1. `python benchmarks/jobs.py
# --image ../shared/data/kodak/kodim01.png` on this 2-core CPU, beside training: a -j worker starts (spawn, import
# aec, load r8; no torch at effort 0) in 0.48 s (1.07 s when it imported torch). Two one-thread workers take T/2 plus
# a start for coding that takes T on one thread, where this process alone takes T/1.5 on two threads (an idle Kodak
# encode: 780 ms on one thread, 517 on two; benchmarks/results/speed.md), so they pay from T = 3 s of coding: 1.5
# megapixels at 2.0 s per megapixel. Whole commands on 2 Kodak images took 7 s with -j 2 against 12 s with -j 1
# (8 images: 11.6 s against 25.2 s) when a worker started in 1.07 s, the machine loaded by other jobs too.
# A decoding worker starts the same; the same threshold serves both (24 Kodak files: 11.0 s decoded with two
# workers against 13.8 s with -j 1).
AUTO_JOBS_MEGAPIXELS = 1.5
AUTO_JOBS_FILES = 64  # this many files are taken to hold enough work (each also costs a read, a write and an fsync)
# width * height of any header fits below this, so headers too large to decode here are still read.
NO_PIXEL_LIMIT = 1 << 64
# Compressing with recursive=True: the images below a folder, by suffix.
_EXTRA_IMAGE_SUFFIXES = {".gif", ".avif"}


class BatchError(Exception):
    """A one-line failure of one input (its outcome's ``error``); the message names the input."""


class FatalError(BatchError):
    """A failure that stops the whole run, e.g. a model that cannot be loaded."""


class BatchUsageError(ValueError):
    """An argument no input can be coded with (no files below a folder, a model quality the model does not take, a
    model named by ``model_id`` or ``weights`` that cannot be loaded); ``parameter`` names the argument, None when it
    is the inputs."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


@dataclass
class Outcome:
    """One input's outcome: where it went, the API's ``EncodeResult`` or ``DecodeResult``, or the one-line error.

    ``result`` is set once the input is coded, even when its output then fails to be written. ``input_bytes`` and
    ``output_bytes`` are what was read and written; ``psnr`` and ``ms_ssim`` (compressing with ``measure``) compare the
    file decoded again with the image coded (MS-SSIM None under 161 pixels on a side). ``lines``: the warnings the
    input raised in a worker thread that ``held`` kept, to be said with it.
    """

    source: str
    target: str | None = None
    result: Any = None
    error: str | None = None
    input_bytes: int = 0
    output_bytes: int = 0
    seconds: float = 0.0
    psnr: float | None = None
    ms_ssim: float | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def compress_files(inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
                   quality: float | None = None, model_quality: float | None = None, effort: int = 0,
                   strip: bool = False, target_size: int | None = None, target_bpp: float | None = None,
                   target_psnr: float | None = None, model_id: str | None = None,
                   weights: str | os.PathLike | None = None, jobs: int | None = None, threads: int | None = None,
                   force: bool = False, recursive: bool = False, max_pixels: int | None = None, measure: bool = False,
                   on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Compress image files to .aec files; one ``Outcome`` per input, in input order.

    ``output``: None writes photo.aec next to photo.png; an existing folder takes each output (with ``recursive``,
    the subfolders below a folder input kept); a file name, one input's output. ``quality`` .. ``target_psnr`` and
    ``effort``, ``strip`` are ``Codec.encode``'s (at most one of the quality and the targets). ``jobs``: worker
    processes (None: one per core when the inputs hold enough work, 0: one per core, 1: this process). ``on_outcome``
    is called with each outcome as it is done. Raises ``BatchUsageError`` (bad arguments, a model that cannot be
    loaded), ``FatalError`` or ``WorkersFailed``; an input's own failure is its outcome's ``error``.
    """
    from .images import IMAGE_SUFFIXES  # numpy and Pillow, no torch

    sources, subfolders = expand(inputs, recursive, IMAGE_SUFFIXES | _EXTRA_IMAGE_SUFFIXES, "image")
    coding = {name: value for name, value in (("target_size", target_size), ("target_bpp", target_bpp),
                                              ("target_psnr", target_psnr)) if value is not None}
    batch = Batch(sources, _path(output), compressing=True, subfolders=subfolders, jobs=jobs_for(jobs, sources),
                  threads=threads, force=force, max_pixels=max_pixels, model_id=model_id, weights=_path(weights),
                  measure=measure, quality=quality, model_quality=model_quality, effort=effort, strip=strip, **coding)
    return batch.run(on_outcome)


def decompress_files(inputs: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
                     format: str | None = None, weights: str | os.PathLike | None = None, jobs: int | None = None,
                     threads: int | None = None, force: bool = False, recursive: bool = False,
                     max_pixels: int | None = None,
                     on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Decompress .aec files to images (PNG, or the format an output's suffix or ``format`` names); one ``Outcome``
    per input, in input order. ``output``, ``jobs``, ``force``, ``recursive`` and the errors as ``compress_files``;
    each file is decoded with the model it names unless ``weights`` is given."""
    sources, subfolders = expand(inputs, recursive, {AEC_SUFFIX}, ".aec")
    forced = None if format is None else named_format(format)
    batch = Batch(sources, _path(output), compressing=False, subfolders=subfolders, jobs=jobs_for(jobs, sources),
                  threads=threads, force=force, max_pixels=max_pixels, weights=_path(weights), image_format=forced)
    return batch.run(on_outcome)


def _path(path: str | os.PathLike | None) -> str | None:
    return None if path is None else os.fspath(path)


class Batch:
    """A planned run over inputs already expanded (``expand``): ``run`` codes each into its target.

    ``jobs`` is the number of worker processes (``jobs_for`` resolves None and 0); ``coding`` is passed to
    ``Codec.encode`` (compressing), ``image_format`` forces the decoded images' format (decompressing).
    """

    def __init__(self, inputs: Sequence[str], output: str | None = None, *, compressing: bool,
                 subfolders: dict[str, str] | None = None, jobs: int = 1, threads: int | None = None,
                 force: bool = False, max_pixels: int | None = None, model_id: str | None = None,
                 weights: str | None = None, image_format: str | None = None, measure: bool = False,
                 **coding: Any):
        self.inputs = tuple(inputs)
        self.output = output
        self.compressing = compressing
        self.subfolders = subfolders or {}
        self.jobs = max(1, jobs)
        self.force = force
        self.max_pixels = max_pixels
        self.image_format = image_format
        self.measure = measure
        self.coding = coding
        self._quality_checked = False
        self._codecs = _Codecs(model_id, weights, max_pixels, encoding=compressing, jobs=self.jobs, threads=threads,
                               refining=coding.get("effort", 0) > 0)

    def run(self, on_outcome: Callable[[Outcome], None] | None = None, *,
            image_progress: Callable[[str], Callable[[float], None] | None] | None = None,
            iterate: Callable[[Sequence[str]], ContextManager[Iterable[str]]] | None = None) -> list[Outcome]:
        """Code every input; call on_outcome with each outcome (in this thread), return them all.

        With N jobs, N inputs are coded at once (threads here, the coding in N worker processes); their outcomes
        come in input order, an input that fails before it is coded (unreadable, its output exists) at once.
        ``image_progress(source)``: the codec's progress callback for one input (one job only); ``iterate``: a context
        manager that yields the inputs to go through (a progress bar). Ctrl-C ends the workers at once and is raised
        again; no partial output is left.
        """
        outcomes: list[Outcome] = []
        written: dict[str, str] = {}  # target (normalised) -> the input it was written from in this run
        threads = concurrent.futures.ThreadPoolExecutor(self.jobs) if self.jobs > 1 else None
        pending: collections.deque = collections.deque()  # futures of outcomes, at most 2 N: bounded memory

        def report(outcome: Outcome) -> None:
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            with (iterate or _as_is)(self.inputs) as items:
                for source in items:
                    outcome = Outcome(source)
                    data = _attempt(outcome, lambda: self._prepare(outcome, written, claim=threads is not None))
                    if not outcome.ok:
                        report(outcome)
                        continue
                    if threads is None:
                        progress = image_progress(source) if image_progress is not None else None
                        _attempt(outcome, lambda: self._work_on(outcome, data, written, progress))
                        report(outcome)
                        continue
                    pending.append(threads.submit(_holding_lines, self._work_on, outcome, data, written, None))
                    while len(pending) >= 2 * self.jobs or (pending and pending[0].done()):
                        report(pending.popleft().result())
                while pending:
                    report(pending.popleft().result())
        except KeyboardInterrupt:  # Ctrl-C, or a signal the caller raises as one
            self._codecs.stop()  # the workers end now, not after their images: nothing is left behind
            raise
        finally:
            for future in pending:
                future.cancel()
            if threads is not None:
                threads.shutdown(wait=True, cancel_futures=True)
            self._codecs.close()
        return outcomes

    def _prepare(self, outcome: Outcome, written: dict[str, str], *, claim: bool) -> bytes:
        source = outcome.source
        default_name = (compressed_name if self.compressing
                        else lambda name: decompressed_name(name, self.image_format))
        target = outcome.target = _target_for(source, self.output, default_name, self.subfolders.get(source, "."))
        _check_stdout(target)
        data = read_input(source, self.max_pixels, magic=None if self.compressing else MAGIC)
        _check_target(source, target, force=self.force, written=written)
        if source in self.subfolders:
            _make_folder(os.path.dirname(target))
        if target != STDIO and claim:  # claimed now: the next inputs are checked before it is written
            written[normalise(target)] = source
        return data

    def _work_on(self, outcome: Outcome, data: bytes, written: dict[str, str],
                 progress: Callable[[float], None] | None) -> None:
        options = {} if progress is None else {"progress": progress}
        (self._compress if self.compressing else self._decompress)(outcome, data, options)
        if outcome.target != STDIO:
            written[normalise(outcome.target)] = outcome.source

    def _compress(self, outcome: Outcome, data: bytes, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        source, target = outcome.source, outcome.target
        if not data:
            raise BatchError(f"{input_name(source)} is empty: not an image")
        codec = self._codecs.get()
        model_quality = self.coding.get("model_quality")
        if not self._quality_checked and model_quality is not None:  # a quality the model does not take: no input
            try:
                codec.check_quality(model_quality=model_quality)
                self._quality_checked = True
            except AECError as error:
                raise BatchUsageError(str(error), "model_quality") from None
        # The bytes already read, not the path: a pipe such as <(curl ...) cannot be read twice.
        try:
            result = codec.encode(_named_buffer(data, input_name(source)), **self.coding, **options)
        except AECError as error:
            raise BatchError(_named(source, error)) from None
        outcome.result = result
        _write_output(target, result.data, force=self.force)
        outcome.seconds = time.perf_counter() - started
        outcome.input_bytes, outcome.output_bytes = len(data), len(result.data)
        if self.measure:  # as cwebp -print_psnr: the file decoded again and compared with what was coded
            outcome.psnr, outcome.ms_ssim = _coded_quality(codec, result.data, data, source, self.max_pixels)

    def _decompress(self, outcome: Outcome, data: bytes, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        source, target = outcome.source, outcome.target
        image_format = output_format(None if target == STDIO else target, self.image_format)
        try:
            # The rules a file must keep that need no model, before torch is imported or a model loaded: a bad or
            # hostile file is refused in milliseconds (the codec checks them again, as it must for any caller).
            check_coder_version(parse(data, max_pixels=self.max_pixels or DEFAULT_MAX_PIXELS)[0].coder_version)
        except AECError as error:
            raise BatchError(_named(source, error)) from None
        codec = self._codecs.get()
        try:
            # Without weights the codec loads the model each file names (never the default model first).
            result = codec.decode(data, **options)
        except AECError as error:
            raise BatchError(_named(source, error)) from None
        except OSError as error:  # the model files this file names cannot be read
            raise BatchError(f"{input_name(source)}: cannot load the model: {reason(error)}") from None
        outcome.result = result
        encoded = encode_image(result.image, image_format, output_name(target), threads=codec.writing_threads())
        _write_output(target, encoded, force=self.force)
        outcome.seconds = time.perf_counter() - started
        outcome.input_bytes, outcome.output_bytes = len(data), len(encoded)


@contextlib.contextmanager
def _as_is(items: Sequence[str]) -> Iterator[Iterable[str]]:
    yield iter(items)


def _attempt(outcome: Outcome, step: Callable[[], Any]) -> Any:
    """step(); an input's failure becomes its outcome's error (the run goes on), a failure of the run is raised."""
    try:
        return step()
    except (BatchUsageError, FatalError, WorkersFailed):  # nothing else can succeed
        raise
    except (BatchError, OutputError) as error:
        outcome.error = str(error)
    except Exception as error:  # a bug: still one line, and the other inputs go on
        outcome.error = (f"{input_name(outcome.source)}: internal error ({type(error).__name__}: {error}); "
                         "this is a bug in aec, please report it")
    return None


_HELD = threading.local()  # a worker thread's warnings, held so that each input's lines come out in input order


def held(line: str) -> bool:
    """In a worker thread of ``Batch.run``, keep line with the input it codes (``Outcome.lines``) and return True;
    False elsewhere. A program that shows warnings (``warnings.showwarning``) asks this first."""
    lines = getattr(_HELD, "lines", None)
    if lines is None:
        return False
    lines.append(line)
    return True


def _holding_lines(work: Callable[..., None], outcome: Outcome, *args: Any) -> Outcome:
    """work(outcome, *args) in a worker thread, the lines it holds kept in the outcome."""
    _HELD.lines = outcome.lines
    try:
        _attempt(outcome, lambda: work(outcome, *args))
        return outcome
    finally:
        _HELD.lines = None


# ----------------------------------------------------------------------------------------------------------
# The codec, loaded at most once per run


class _Codecs:
    """Loads the Codec on first use only, so inputs that fail early never load a model."""

    def __init__(self, model_id: str | None, weights: str | None, max_pixels: int | None, *, encoding: bool,
                 jobs: int = 1, threads: int | None = None, refining: bool = False):
        self._model_id = model_id
        self._refining = refining  # an effort above 0: the torch model is loaded too
        # Workers take one core each unless threads says otherwise: more would only fight for the cores.
        self._threads = threads if threads is not None or jobs == 1 else 1
        self._weights = weights
        self._max_pixels = max_pixels
        self._encoding = encoding
        self._codec: Any = None
        self.jobs = jobs
        self._lock = threading.Lock()  # jobs: the first worker threads ask at once

    def get(self) -> Any:
        """The codec, with the model chosen (or, to encode, the default one) loaded.

        That model failing to load stops the run; a model that a file names loads when the file is decoded, and
        failing to load fails that file only.
        """
        with self._lock:
            if self._codec is None:
                self._codec = self._load()
            return self._codec

    def close(self) -> None:
        if isinstance(self._codec, PooledCodec):
            self._codec.close()

    def stop(self) -> None:
        """End the worker processes now (an interrupted run): what they are coding is not waited for."""
        if isinstance(self._codec, PooledCodec):
            self._codec.stop()

    def _load(self) -> Any:
        from .api import Codec  # numpy, PIL and the coder; torch only to refine (effort above 0)

        try:
            codec = Codec(self._model_id, weights=self._weights, max_pixels=self._max_pixels, threads=self._threads)
            if self._encoding:
                codec.model_id  # noqa: B018  (loads the default model now, so that its failure is reported here)
            if self._refining:
                codec.model  # noqa: B018  (and its torch model, for the refinement)
        except (AECError, OSError) as error:
            message = f"cannot load the model: {reason(error) if isinstance(error, OSError) else error}"
            # A model the caller names is a bad argument; the default model failing is not.
            for value, parameter in ((self._weights, "weights"), (self._model_id, "model_id")):
                if value is not None:
                    raise BatchUsageError(message, parameter) from None
            raise FatalError(message) from None
        return PooledCodec(codec, self.jobs) if self.jobs > 1 else codec


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def jobs_for(jobs: int | None, inputs: Sequence[str]) -> int:
    """Worker processes: 0 is one per core, None chooses (``_auto_jobs``); never more than the inputs."""
    wanted = _auto_jobs(inputs) if jobs is None else jobs or usable_cores()
    return max(1, min(wanted, len(inputs)))


def _auto_jobs(inputs: Sequence[str]) -> int:
    """One worker per core when the inputs' coding outweighs the start of the workers, else 1 (this process).

    A worker pays a start (spawn, import torch, load the model: ``AUTO_JOBS_MEGAPIXELS``), and splitting the work
    over the cores pays it back once the inputs hold about that many megapixels. Many files are taken to hold
    that many; for a few, the pixels are read from their headers (Pillow's, or the .aec container's).
    """
    cores = usable_cores()
    if cores < 2 or len(inputs) < 2:
        return 1
    if len(inputs) >= AUTO_JOBS_FILES:
        return cores
    pixels = 0
    for source in inputs:  # headers only, and only until there is enough
        pixels += _pixels(source)
        if pixels >= AUTO_JOBS_MEGAPIXELS * 1e6:
            return cores
    return 1


def _pixels(source: str) -> int:
    """width * height from a file's header (0 if it cannot be read: stdin, not an image, ...)."""
    if source == STDIO or not os.path.isfile(source):  # a device or a pipe is read once, when it is coded
        return 0
    try:
        with open(source, "rb") as handle:
            if handle.read(len(MAGIC)) == MAGIC:
                header = parse(read_path(source, input_limit(DEFAULT_MAX_PIXELS), magic=MAGIC),
                               max_pixels=NO_PIXEL_LIMIT)[0]
                return header.width * header.height
            from .images import open_header  # Image.open without Pillow's bomb warning: aec judges the size later

            with open_header(source) as image:  # the header only
                return image.width * image.height
    except Exception:  # noqa: BLE001  (the input's own failure is reported when it is coded)
        return 0


# ----------------------------------------------------------------------------------------------------------
# Inputs and targets


def expand(inputs: Sequence[str | os.PathLike], recursive: bool, suffixes: set[str],
           kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """With recursive, each folder among the inputs replaced by the files below it with one of the suffixes (any
    case), sorted; returns the inputs and, for each file found, its subfolder relative to the folder given."""
    inputs = tuple(os.fspath(source) for source in inputs)
    if not recursive:
        return inputs, {}
    expanded: list[str] = []
    subfolders: dict[str, str] = {}
    for source in inputs:
        if source == STDIO or not os.path.isdir(source):
            expanded.append(source)
            continue
        found = []
        for folder, names, files in os.walk(source):
            names[:] = sorted(name for name in names if not name.startswith("."))
            found += [os.path.join(folder, name) for name in sorted(files)
                      if os.path.splitext(name)[1].lower() in suffixes and not name.startswith(".")]
        if not found:
            raise BatchUsageError(f"no {kind} files in {source} or below it")
        for path in found:
            subfolders[path] = os.path.relpath(os.path.dirname(path), source)
        expanded += found
    return tuple(expanded), subfolders


def _target_for(source: str, output: str | None, default_name: Callable[[str], str], subfolder: str = ".") -> str:
    """Where the output of one input goes; subfolder: where -r found it below the folder given, kept under -o DIR."""
    if output is None:
        return STDIO if source == STDIO else default_name(source)
    if output != STDIO and os.path.isdir(output):
        name = os.path.basename(default_name(source))
        return os.path.join(output, name) if subfolder == "." else os.path.join(output, subfolder, name)
    return output


def _make_folder(folder: str) -> None:
    """The folder an output goes into, made if -r found its input in a subfolder that -o DIR does not have yet."""
    if folder and not os.path.isdir(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise BatchError(f"cannot make the folder {folder}: {reason(error)}") from None


def _check_stdout(target: str) -> None:
    if target == STDIO and is_terminal(_stdio("stdout")):
        raise BatchError("refusing to write binary data to a terminal; redirect stdout or give -o FILE")


def _check_target(source: str, target: str, *, force: bool, written: dict[str, str]) -> None:
    """Refuse, before any work, outputs that would overwrite the input, a file or an earlier output."""
    if target == STDIO:
        return
    if source != STDIO and same_file(source, target):
        raise BatchError(f"output {target} is the input file; give another name with -o")
    earlier = written.get(normalise(target))
    if earlier is not None:
        raise BatchError(f"{input_name(source)}: output {target} was already written from {earlier} in this run; "
                         "give the inputs distinct names")
    kind = special_kind(target)
    if kind == "socket":
        raise BatchError(f"{target} is a socket; aec writes files, devices and pipes")
    if kind == "block device" and not force:
        raise BatchError(f"{target} is a block device (a disk); use -f to write into it")
    if kind is None and not force and os.path.lexists(target):
        raise BatchError(f"{target} already exists; use -f to overwrite it")


def _stdio(name: str) -> Any:
    """sys.stdin or sys.stdout as a binary stream (click.get_binary_stream is deprecated from click 8.5 on);
    BatchError when the process was started with it closed (`<&-`, `>&-`: Python then has None)."""
    stream = getattr(sys, name)
    if stream is None:
        doing = "read stdin" if name == "stdin" else "write to stdout"
        raise BatchError(f"cannot {doing}: Bad file descriptor (it is closed)")
    return getattr(stream, "buffer", stream)


def _stdout_failed(error: OSError) -> BatchError:
    """The one-line error of a failed write to stdout; after a broken pipe, stdout is pointed at /dev/null so that the
    interpreter's last flush at exit does not print a second error (Python's documented remedy)."""
    if isinstance(error, BrokenPipeError):
        with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
    return BatchError(f"cannot write to stdout: {reason(error)}")


def _write_output(target: str, data: bytes, *, force: bool) -> None:
    """Write data to stdout, or to a file (``aec.outputs.write_file``: atomic, never over a file without force)."""
    if target != STDIO:
        write_file(target, data, force=force)
        return
    stream = _stdio("stdout")
    try:
        write_all(stream, data)
    except OSError as error:
        raise _stdout_failed(error) from None


def read_input(source: str, max_pixels: int | None, *, magic: bytes | None = None) -> bytes:
    """An input's bytes in bounded memory (aec.inputs): at most what an image within the pixel limit needs, and with
    ``magic`` only its first bytes if they are not it; devices are refused by name."""
    limit = input_limit(max_pixels or DEFAULT_MAX_PIXELS)
    if source != STDIO and os.path.isdir(source):
        raise BatchError(f"{source} is a folder; give -r to take the files below it")
    try:
        if source != STDIO:
            return read_path(source, limit, magic=magic)
        stream = _stdio("stdin")
        if is_terminal(stream):
            raise BatchError("refusing to read binary data from a terminal; pipe a file in or name it")
        return read_stream(stream, limit, "<stdin>", magic=magic)
    except AECError as error:
        raise BatchError(str(error)) from None
    except OSError as error:
        raise BatchError(f"cannot read stdin: {reason(error)}") from None


def _coded_quality(codec: Any, coded: bytes, data: bytes, source: str,
                   max_pixels: int | None) -> tuple[float, float | None]:
    """PSNR (dB) and MS-SSIM of a file's decoded image against the image it was coded from, on the planes aec codes
    (RGB, or the gray plane; alpha is lossless); MS-SSIM None for an image under 161 pixels on a side."""
    import numpy as np

    from .api import _coded_planes, _coded_psnr
    from .images import load
    from .metrics import MS_SSIM_MIN_SIDE, ms_ssim

    original = load(_named_buffer(data, input_name(source)), max_pixels or DEFAULT_MAX_PIXELS, True).rgb
    decoded = np.asarray(codec.decode(coded).image)
    planes, reference = _coded_planes(decoded, original)
    structural = ms_ssim(reference, planes) if min(reference.shape[:2]) >= MS_SSIM_MIN_SIDE else None
    return _coded_psnr(decoded, original), structural


def _named(source: str, error: Exception) -> str:
    """The message of error, starting with the input's name unless the codec already put it there."""
    name, message = input_name(source), str(error)
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _named_buffer(data: bytes, name: str) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name  # the codec names its input after this in error messages
    return buffer


def input_name(source: str) -> str:
    return "<stdin>" if source == STDIO else source


def output_name(target: str) -> str:
    return "<stdout>" if target == STDIO else target
