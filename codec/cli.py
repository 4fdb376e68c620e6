"""The aec command line: `aec compress`, `aec decompress` and `aec info`, in the habits of gzip and zstd."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import io
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from .bitstream import DEFAULT_MAX_PIXELS, MAGIC, AECError, check_coder_version, parse
from . import __version__
from .config import MAX_EFFORT
from .inputs import input_limit, read_path, read_stream
from .errors import OutputError, reason
from .outputs import (AEC_SUFFIX, compressed_name, decompressed_name, encode_image, named_format, normalise,
                      output_format, same_file, special_kind, write_all, write_file)
from .pool import PooledCodec, WorkersFailed

__all__ = ["main"]

STDIO = "-"
# -j by default (no -j): one worker per core once the inputs hold this much work, else 1. `python benchmarks/jobs.py
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
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
# width * height of any header fits below this, so `aec info` describes files too large to decode here.
_NO_PIXEL_LIMIT = 1 << 64

_SAY_LOCK = threading.RLock()
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES = """\b
Exit codes:
  0    success
  1    an input failed (unreadable, not an image, corrupt .aec, output exists, ...);
       with several inputs, aec keeps going and exits 1 if any failed
  2    usage error (unknown option, bad option value: a quality outside 0-100, a
       --model-quality the model does not take, a --model or --weights that
       cannot be loaded)
  130  interrupted (Ctrl-C); no partial output file is left behind
  143  terminated (SIGTERM), 129 hung up (SIGHUP): as Ctrl-C, the -j workers
       ended too"""

MAIN_USAGE = """\b
  aec compress [-q 0-100] [-o OUT] [-f] IN...   images (PNG, JPEG, WebP, ...) -> .aec
  aec decompress [-o OUT] [-f] IN...            .aec -> PNG, or the format OUT names
  aec info FILE...                              what a file's header says
  aec models                                    the installed models"""

MAIN_EPILOG = f"""\b
Compress options:
  -q Q         quality 0-100, higher: larger file, better image (default 75)
  -e E         effort 0-5, higher: slower, fewer bits at the same quality (default 0)

\b
Common options (compress and decompress):
  -o OUT       output file, '-' for stdout, or an existing folder (without -o:
               each output next to its input)
  -f           overwrite an existing output
  -r           folders: the images (or .aec files) below them
  -j N         N worker processes (default: one per core for enough work)
  --threads T  threads per process (default: the cores other work leaves free)
  -v, --quiet  per-file statistics, or nothing but errors, on stderr

\b
Examples:
  aec compress photo.png                 writes photo.aec next to photo.png
  aec compress -q 50 *.png -o out/       several files into an existing folder
  aec decompress photo.aec               writes photo.png
  aec decompress photo.aec -o photo.jpg  any format Pillow writes, by suffix
  aec decompress photo.aec -o - | feh -  decoded PNG on stdout
  cat photo.png | aec compress - > photo.aec
  aec info photo.aec                     what the header says, without decoding
  aec models                             the installed models, the default marked

Run 'aec COMMAND --help' for all the options of a command.

{EXIT_CODES}"""

COMPRESS_EPILOG = f"""\b
Examples:
  aec compress photo.png                        writes photo.aec (quality 75)
  aec compress -q 50 photo.png -o small.aec     quality 0-100: lower, smaller
  aec compress --target-size 40000 photo.png    about 40 kB (the quality searched)
  aec compress --model-quality 4 photo.png      the model's own scale (1-6)
  aec compress *.png -o archive/                several files into an existing folder
  aec compress -r photos/ -o archive/           every image below photos/, subfolders kept
  aec compress -j 0 *.png -o archive/           one worker process per core
  aec compress - < photo.png > photo.aec
  aec compress --weights my.safetensors photo.png

Quality 0-100 means what it does to libjpeg, roughly: each model maps it onto its own scale
so that its mean PSNR on the Kodak images matches JPEG's at the same number (weights/manifest.json
has each model's anchors); a released model's scale never changes. On a terminal, one image
shows its progress while it is coded.

An existing output is kept unless -f is given; outputs are written to a temporary file and renamed,
so a failed or interrupted run never leaves a partial file. A device or a pipe (-o /dev/null, a FIFO)
is written into, never replaced. Inputs are read up to 8 bytes per allowed pixel (512 MiB + 64 MiB by
default); devices such as /dev/zero are refused as inputs. An image over the pixel limit (--max-pixels)
is refused from its header, before its pixels are decoded.

{EXIT_CODES}"""

DECOMPRESS_EPILOG = f"""\b
Examples:
  aec decompress photo.aec               writes photo.png
  aec decompress photo.aec -o photo.jpg  format from the suffix: .png .jpg .webp .avif .tif .bmp ...
  aec decompress *.aec -o decoded/       several files into an existing folder
  aec decompress - < photo.aec > photo.png
  aec decompress --format webp photo.aec -o - > photo.webp

Any format Pillow writes, by the output's suffix (PNG without one, and on stdout unless --format
says otherwise). JPEG is written at quality 95 without chroma subsampling, WebP at 95, AVIF at 90.
A format without an alpha channel (JPEG, BMP, PPM, GIF, ...) gets the image without its alpha, with
a warning; the ICC profile and EXIF block go into PNG, TIFF, JPEG, WebP and AVIF.

{EXIT_CODES}"""

MODELS_EPILOG = """\b
Examples:
  aec models

The models this aec ships (weights/manifest.json; no model is loaded): the default codes unless
--model names another; a file names the model that wrote it, and decoding loads that one. A retired
model no longer ships: the aec version named decodes its files.

\b
Exit codes:
  0    success
  1    the model manifest is missing or unreadable (reinstall aec)"""

INFO_EPILOG = """\b
Examples:
  aec info photo.aec
  aec info *.aec

Only the container is read and checked (CRC included); no model is loaded.

\b
Exit codes:
  0    success
  1    a file could not be read or is not a valid .aec file; aec goes on with the
       others and exits 1 if any failed
  2    usage error (unknown option, '-' given more than once)
  130  interrupted (Ctrl-C)"""


class CliError(Exception):
    """A one-line, user-facing failure of one input; the message is printed as is."""


class FatalError(CliError):
    """A failure that stops the whole command, e.g. a model that cannot be loaded."""


# ----------------------------------------------------------------------------------------------------------
# Commands


@click.group(name="aec", context_settings=CONTEXT_SETTINGS, epilog=MAIN_EPILOG,
             help=f"aec: a learned image codec (.png and friends <-> .aec).\n\n{MAIN_USAGE}")
@click.version_option(__version__, "-V", "--version", prog_name="aec", message="%(prog)s %(version)s")
def main() -> None:
    """aec: a learned image codec (.png and friends <-> .aec); ``aec --help`` gives the usage."""
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Warnings (e.g. a 16-bit image reduced to 8 bits) as one line on stderr, not a source location."""
    _emit(f"aec: warning: {message}")


_HELD = threading.local()  # -j: a worker thread's lines, held so that each input's lines come out in input order


def _emit(line: str) -> None:
    line = _one_line(line)
    held = getattr(_HELD, "lines", None)
    if held is not None:
        held.append(line)
    else:
        click.echo(line, err=True)


def _holding_lines(work: Callable[..., None], *args: Any) -> tuple[list[str], BaseException | None]:
    """Run work(*args) in a worker thread; return the lines it said and the exception it raised, for the caller."""
    _HELD.lines = lines = []
    try:
        work(*args)
        return lines, None
    except Exception as error:  # reported by the main thread, in input order, as it reports its own
        return lines, error
    finally:
        _HELD.lines = None


class _Number(click.ParamType):
    """A number as a user types it, with a message that says what to give (click's own types answer "not a valid
    float" or "not a valid integer range"). Without a range, any float passes (NaN and infinity too: the quality check
    names the model's range)."""

    name = "number"

    def __init__(self, description: str = "a number", *, integer: bool = False, low: float | None = None,
                 high: float | None = None, low_open: bool = False):
        self.description, self.integer, self.low, self.high, self.low_open = description, integer, low, high, low_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text) if self.integer else float(text)
            except ValueError:
                self.fail(f"{text!r} is not {'a whole number' if self.integer else 'a number'}; give "
                          f"{self.description}", param, ctx)
        if self.low is None and self.high is None:
            return number
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number; give {self.description}", param, ctx)
        below = number <= self.low if self.low_open else number < self.low  # type: ignore[operator]
        if (self.low is not None and below) or (self.high is not None and number > self.high):
            self.fail(f"{number:g} is out of range; give {self.description}", param, ctx)
        return number


def _output_options(command: Callable) -> Callable:
    """Options shared by compress and decompress."""
    for option in reversed(
        (
            click.option("-o", "--output", metavar="OUT",
                         help="Output file, '-' for stdout, or an existing folder (with several inputs or -r, a "
                              "folder). Without -o each output is written next to its input (stdin: to stdout)."),
            click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
            click.option("-r", "--recursive", is_flag=True,
                         help="Descend into folders given as IN; with -o DIR their subfolders are kept under DIR."),
            click.option("-j", "--jobs", type=_Number("a whole number of worker processes, 0 for one per core",
                                                       integer=True, low=0, high=1024), metavar="N",
                         help="Code N files at once in worker processes, each loading the model (0: one per CPU "
                              "core; 1: this process only). Default: one per core when the inputs hold enough "
                              f"work to pay the workers' start ({AUTO_JOBS_MEGAPIXELS:g} megapixels or more, or "
                              f"{AUTO_JOBS_FILES} files), else 1."),
            click.option("--threads", type=_Number("a whole number of threads, 1 or more", integer=True, low=1,
                                                    high=1024), metavar="T",
                         help="At most T threads for the networks in each process (default: the cores that "
                              "other work leaves free; -j workers: 1 each)."),
            click.option("-v", "--verbose", is_flag=True, help="Per-file statistics on stderr."),
            click.option("--quiet", is_flag=True,
                         help="Print nothing but errors (no summary, no progress bar or progress line)."),
        )
    ):
        command = option(command)
    return command


def _max_pixels_option(command: Callable) -> Callable:
    return click.option("--max-pixels", type=_Number("a whole number of pixels, 1 or more", integer=True, low=1),
                        metavar="N",
                        help="Refuse images larger than N pixels, counted padded to a multiple of 64 on each side "
                             "(default: 2**26, 8192 x 8192: every camera photo up to 61 megapixels; raise it for "
                             "larger images you trust).")(command)


@main.command(epilog=COMPRESS_EPILOG, short_help="Compress images (PNG, JPEG, WebP, ...) to .aec files.")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("-q", "--quality", type=_Number("a quality from 0 to 100", low=0, high=100), metavar="Q",
              help="Quality 0-100 (higher: larger file, better image; fractions allowed) [default: 75]. Each model "
                   "maps it onto its own scale, about libjpeg's PSNR at the same number.")
@click.option("--model-quality", type=_Number("a number in the model's range, e.g. 1 to 6"), metavar="MQ",
              help="The model's own quality scale instead of -q (1 to 6 for the shipped models), as the file's "
                   "header stores it.")
@_output_options
@click.option("--model", "model_id", metavar="ID", help="Installed model id (default: the shipped default model).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Use this .safetensors model file instead of an installed model.")
@click.option("-e", "--effort", type=_Number(f"a whole number from 0 to {MAX_EFFORT}", integer=True, low=0,
                                             high=MAX_EFFORT), default=0, show_default=True, metavar="E",
              help=f"Encoder effort 0-{MAX_EFFORT}: higher refines the latents longer for fewer bits at the same "
                   "quality (slower; any aec decodes the file).")
@click.option("--target-size", type=_Number("a whole number of bytes, 1 or more", integer=True, low=1),
              metavar="BYTES",
              help="Search the quality for a file of about this size (within 2 %), instead of -q.")
@click.option("--target-bpp", type=_Number("a number of bits per pixel above 0 (at most 1e6)", low=0, low_open=True,
                                           high=1e6), metavar="BPP",
              help="Search the quality for about this many bits per pixel (within 2 %).")
@click.option("--target-psnr", type=_Number("a PSNR in dB above 0 (at most 1e6)", low=0, low_open=True, high=1e6),
              metavar="DB",
              help="Search the quality for about this PSNR in dB (within 0.05 dB).")
@click.option("--strip", is_flag=True, help="Leave out the ICC profile and EXIF block (kept by default).")
@_max_pixels_option
@click.pass_context
def compress(context: click.Context, inputs: tuple[str, ...], output: str | None, force: bool, recursive: bool,
             jobs: int | None, threads: int | None, verbose: bool, quiet: bool, quality: float | None,
             model_quality: float | None,
             model_id: str | None, weights: str | None, effort: int,
             target_size: int | None, target_bpp: float | None, target_psnr: float | None, strip: bool,
             max_pixels: int | None) -> None:
    """Compress images (PNG, JPEG, ...) to .aec files; IN may be '-' for stdin.

    Without -o, photo.png is written as photo.aec next to it; reading stdin writes to stdout. With -r, a folder
    stands for the images below it (by suffix: .png .jpg .jpeg .webp .tif .tiff .bmp .ppm .pgm .gif .avif).
    """
    from .images import IMAGE_SUFFIXES  # numpy and Pillow, no torch

    inputs, subfolders = _expand(inputs, recursive, IMAGE_SUFFIXES | {".gif", ".avif"}, "image")
    _check_arguments(inputs, output, verbose, quiet, recursive)
    targets = {name: value for name, value in (("target_size", target_size), ("target_bpp", target_bpp),
                                               ("target_psnr", target_psnr)) if value is not None}
    if len(targets) + (quality is not None) + (model_quality is not None) > 1:
        raise click.UsageError("give one of -q, --model-quality, --target-size, --target-bpp and --target-psnr")
    codecs = _Codecs(model_id, weights, max_pixels, encoding=True, jobs=_jobs(jobs, inputs), threads=threads,
                     refining=effort > 0)
    settings: dict[str, Any] = {}

    def work(source: str, data: bytes, target: str, console: _Console) -> None:
        started = time.perf_counter()
        if not data:
            raise CliError(f"{_input_name(source)} is empty: not an image")
        codec = codecs.get()
        if not settings and model_quality is not None:  # a quality the model does not take fails every input: once
            try:
                settings["checked"] = codec.check_quality(model_quality=model_quality)
            except AECError as error:
                raise click.BadParameter(str(error), param_hint="'--model-quality'") from None
        # The bytes already read, not the path: a pipe such as <(curl ...) cannot be read twice.
        try:
            result = codec.encode(_named_buffer(data, _input_name(source)), quality=quality,
                                  model_quality=model_quality, effort=effort, strip=strip, **targets,
                                  **console.image_progress(source, "compressing"))
        except AECError as error:
            raise CliError(_named(source, error)) from None
        if result.target_met is False:
            (name, value), = targets.items()
            console.say(f"aec: warning: {_input_name(source)}: {name.replace('_', ' ')} {value:g} is out of reach; "
                        f"coded at the nearest quality, {_quality(result)}")
        _write_output(target, result.data, force=force)
        seconds = time.perf_counter() - started
        header, bpp = result.header, result.bits_per_pixel
        size = f"{header.width}x{header.height}"
        if verbose:  # as cwebp -print_psnr: the file decoded again and compared with what was coded
            psnr, ms_ssim = _coded_quality(codec, result.data, data, source, max_pixels)
            console.say(f"{_input_name(source)} -> {_output_name(target)}: {size}, quality {_quality(result)}, "
                        f"effort {result.effort}, {len(data)} -> {len(result.data)} bytes, {bpp:.3f} bpp, "
                        f"PSNR {psnr:.2f} dB" + (f", MS-SSIM {ms_ssim:.4f}" if ms_ssim is not None else "")
                        + f", {seconds:.2f} s")
        elif console.summaries and target != STDIO:
            console.say(f"{_input_name(source)} -> {_output_name(target)}: {size}, {bpp:.3f} bpp")
        console.totals(len(data), len(result.data))

    _run(context, "compressing", inputs, output, compressed_name, lambda source: _read_input(source, max_pixels),
         work, force=force, verbose=verbose, quiet=quiet, compressing=True, subfolders=subfolders, codecs=codecs)


@main.command(epilog=DECOMPRESS_EPILOG, short_help="Decompress .aec files to PNG, JPEG, WebP, TIFF and more.")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@_output_options
@click.option("--format", "format_name", metavar="FMT",
              help="Output format (png, jpeg, webp, avif, tiff, bmp, ... any Pillow writes) for stdout and for "
                   "names without a suffix; default: the suffix of OUT, else PNG.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Decode with this .safetensors model file instead of the installed model the file names.")
@_max_pixels_option
@click.pass_context
def decompress(context: click.Context, inputs: tuple[str, ...], output: str | None, force: bool, recursive: bool,
               jobs: int | None, threads: int | None, verbose: bool, quiet: bool, format_name: str | None,
               weights: str | None, max_pixels: int | None) -> None:
    """Decompress .aec files to PNG, JPEG, WebP, ... (the format OUT's suffix names); IN may be '-' for stdin.

    Without -o, photo.aec is written as photo.png next to it; reading stdin writes a PNG to stdout. With -r, a
    folder stands for the .aec files below it.
    """
    inputs, subfolders = _expand(inputs, recursive, {AEC_SUFFIX}, ".aec")
    _check_arguments(inputs, output, verbose, quiet, recursive)
    forced = None
    if format_name is not None:
        try:
            forced = named_format(format_name)
        except OutputError as error:
            raise click.BadParameter(str(error), param_hint="'--format'") from None
    if output not in (None, STDIO) and not os.path.isdir(output):
        try:
            output_format(output, forced)
        except OutputError as error:
            raise click.BadParameter(str(error), param_hint="'-o' / '--output'") from None
    codecs = _Codecs(None, weights, max_pixels, encoding=False, jobs=_jobs(jobs, inputs), threads=threads)

    def work(source: str, data: bytes, target: str, console: _Console) -> None:
        started = time.perf_counter()
        image_format = output_format(None if target == STDIO else target, forced)
        try:
            # The rules a file must keep that need no model, before torch is imported or a model loaded: a bad or
            # hostile file is refused in milliseconds (the codec checks them again, as it must for any caller).
            check_coder_version(parse(data, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)[0].coder_version)
        except AECError as error:
            raise CliError(_named(source, error)) from None
        codec = codecs.get()
        try:
            # Without --weights the codec loads the model each file names (never the default model first).
            result = codec.decode(data, **console.image_progress(source, "decompressing"))
        except AECError as error:
            raise CliError(_named(source, error)) from None
        except OSError as error:  # the model files this file names cannot be read
            raise CliError(f"{_input_name(source)}: cannot load the model: {reason(error)}") from None
        image = result.image
        encoded = encode_image(image, image_format, _output_name(target))
        _write_output(target, encoded, force=force)
        seconds = time.perf_counter() - started
        width, height = result.header.width, result.header.height
        bpp = 8 * len(data) / (width * height)
        if verbose:
            console.say(f"{_input_name(source)} -> {_output_name(target)}: {width}x{height} {image.mode}, "
                        f"{len(data)} -> {len(encoded)} bytes, {bpp:.3f} bpp, {seconds:.2f} s")
        elif console.summaries and target != STDIO:
            console.say(f"{_input_name(source)} -> {_output_name(target)}: {width}x{height} {image.mode}")
        console.totals(len(encoded), len(data))

    _run(context, "decompressing", inputs, output, lambda source: decompressed_name(source, forced),
         lambda source: _read_input(source, max_pixels, magic=MAGIC), work, force=force, verbose=verbose, quiet=quiet,
         compressing=False, subfolders=subfolders, codecs=codecs)


@main.command(epilog=MODELS_EPILOG, short_help="List the installed models.")
@click.pass_context
def models(context: click.Context) -> None:
    """List the installed models: id, architecture, training steps, qualities, default or retired."""
    from .manifest import WEIGHTS_DIR, read_manifest  # JSON only: no torch, no model loaded

    try:
        manifest = read_manifest()
    except AECError as error:
        _print_error(str(error))
        context.exit(EXIT_ERROR)
    rows = [("MODEL", "ARCHITECTURE", "STEPS", "QUALITIES", "STATUS")]
    for model_id, entry in sorted(manifest.get("models", {}).items(), reverse=True):
        steps = entry.get("training", {}).get("steps")
        qualities = sorted(float(quality) for quality in entry.get("quality_table", {}))
        if entry.get("retired_after"):
            status = f"retired (aec {entry['retired_after']} decodes its files)"
        elif not (WEIGHTS_DIR / str(entry.get("file", ""))).is_file():
            status = "missing (its file is not installed; reinstall aec)"
        else:
            status = "default" if model_id == manifest.get("default") else "installed"
        rows.append((model_id, str(entry.get("architecture", "?")), f"{steps:,}" if isinstance(steps, int) else "?",
                     f"{qualities[0]:g} to {qualities[-1]:g}" if qualities else "?", status))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


@main.command(epilog=INFO_EPILOG, short_help="Describe .aec files, without decoding them.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.pass_context
def info(context: click.Context, files: tuple[str, ...]) -> None:
    """Describe .aec files: size, format version, model, quality, dimensions, bits per pixel, sections.

    FILE may be '-' for stdin.
    """
    if files.count(STDIO) > 1:
        raise click.UsageError("'-' (stdin) can be given only once")
    failed = 0
    shown = 0
    try:
        for source in files:
            try:
                data = _read_input(source, None, magic=MAGIC)
                header, sections = parse(data, max_pixels=_NO_PIXEL_LIMIT)
            except CliError as error:
                failed += 1
                _print_error(str(error))
                continue
            except AECError as error:
                failed += 1
                _print_error(f"{_input_name(source)}: {error}")
                continue
            click.echo(("\n" if shown else "") + _describe(_one_line(_input_name(source)), data, header, sections))
            shown += 1
    except KeyboardInterrupt:
        _interrupted(context)
    if failed:
        context.exit(EXIT_ERROR)


def _describe(name: str, data: bytes, header: Any, sections: Sequence[Any]) -> str:
    """The `aec info` block for one file."""
    pixels = header.width * header.height
    payload = sum(len(section.payload) for section in sections)
    width = max((len(section.kind) for section in sections), default=4)
    lines = [
        name,
        f"  file size       {len(data)} bytes",
        f"  format version  {header.version[0]}.{header.version[1]}",
        f"  model           {header.model_id} (weights tag {bytes(header.weights_tag).hex()})",
        f"  quality         {_header_quality(header)}",
        f"  size            {header.width} x {header.height}",
        f"  layout          {header.layout}",
        f"  bits per pixel  {8 * len(data) / pixels:.4f}",
        f"  entropy coder   constriction {header.coder_version[0]}.{header.coder_version[1]}",
        f"  symbol checksum 0x{header.symbol_checksum:08x}",
        f"  sections        {len(sections)} ({payload} payload bytes, "
        f"{len(data) - payload} bytes of header, section headers and CRC)",
    ]
    lines += [f"    {section.kind:<{width}}  {len(section.payload):>10} bytes" for section in sections]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Running a command over its inputs


def _expand(inputs: tuple[str, ...], recursive: bool, suffixes: set[str],
            kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """With -r, each folder among the inputs replaced by the files below it with one of the suffixes (any case), sorted;
    returns the inputs and, for each file found, its subfolder relative to the folder given."""
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
            raise click.UsageError(f"no {kind} files in {source} or below it")
        for path in found:
            subfolders[path] = os.path.relpath(os.path.dirname(path), source)
        expanded += found
    return tuple(expanded), subfolders


def _check_arguments(inputs: Sequence[str], output: str | None, verbose: bool, quiet: bool,
                     recursive: bool = False) -> None:
    """Usage errors that need no file to be read (exit 2)."""
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and --quiet contradict each other; give one")
    if STDIO in inputs and len(inputs) > 1:
        raise click.UsageError("'-' (stdin) must be the only input")
    if (len(inputs) > 1 or recursive) and output is not None and (output == STDIO or not os.path.isdir(output)):
        raise click.UsageError(f"with several inputs or -r, -o must be an existing folder; {output!r} is not")
    if output not in (None, STDIO) and not os.path.isdir(output):
        folder = output if output.endswith(("/", os.sep)) else os.path.dirname(output)
        if folder and not os.path.isdir(folder):  # as with several inputs: a usage error before any work
            raise click.UsageError(f"-o {output!r}: the folder {folder!r} does not exist")
    if inputs == (STDIO,) and output is not None and output != STDIO and os.path.isdir(output):
        raise click.UsageError("stdin has no name to put in a folder; give -o a file name")


def _run(context: click.Context, label: str, inputs: Sequence[str], output: str | None,
         default_name: Callable[[str], str], read: Callable[[str], bytes],
         work: Callable[[str, bytes, str, "_Console"], None], *, force: bool, verbose: bool, quiet: bool,
         compressing: bool, subfolders: dict[str, str], codecs: "_Codecs") -> None:
    """Run work(source, read(source), target, console) for each input; report failures, go on, exit 1 if any failed.

    A usage error (a click exception, e.g. a quality the model does not take) stops the command with exit 2. With
    -j N, N inputs are worked on at once (threads here, the coding in N worker processes), reported in input order.
    """
    several = len(inputs) > 1
    console = _Console(summaries=not quiet and not several, verbose=verbose, quiet=quiet,
                       image_line=not several and not quiet and codecs.jobs == 1 and _is_terminal(sys.stderr))
    written: dict[str, str] = {}  # target (normalised) -> the input it was written from in this run
    threads = concurrent.futures.ThreadPoolExecutor(codecs.jobs) if codecs.jobs > 1 else None
    pending: collections.deque = collections.deque()  # (source, future), at most 2 N: bounded memory
    restore_signals = _stop_on_termination_signals()

    def attempt(source: str, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except click.ClickException:
            raise
        except (FatalError, WorkersFailed) as error:  # nothing else can succeed: no per-file summary either
            console.error(str(error))
            context.exit(EXIT_ERROR)
        except (CliError, OutputError) as error:
            console.error(str(error))
            console.failed += 1
        except Exception as error:  # a bug: still one line, and the other inputs go on
            console.error(f"{_input_name(source)}: internal error ({type(error).__name__}: {error}); "
                          "this is a bug in aec, please report it")
            console.failed += 1
        return None

    def prepare(source: str) -> tuple[str, bytes]:
        target = _target_for(source, output, default_name, subfolders.get(source, "."))
        _check_stdout(target)
        data = read(source)
        _check_target(source, target, force=force, written=written)
        if source in subfolders:
            _make_folder(os.path.dirname(target))
        if target != STDIO and threads is not None:  # claimed now: the next inputs are checked before it is written
            written[normalise(target)] = source
        return target, data

    def report(source: str, future: concurrent.futures.Future) -> tuple[str, Callable[[], None]]:
        """Say the lines a worker thread held; what attempt() should run to report its exception, if any."""
        lines, error = future.result()
        for line in lines:
            console.say(line)

        def outcome() -> None:
            if error is not None:
                raise error

        return source, outcome

    def work_on(source: str, target: str, data: bytes) -> None:
        work(source, data, target, console)
        if target != STDIO:
            written[normalise(target)] = source

    try:
        # A bar only on a terminal: off one, click would print its bare label, which is no warning, error or summary.
        with console.progress(inputs, label, enabled=several and not quiet and _is_terminal(sys.stderr)) as items:
            for source in items:
                prepared = attempt(source, lambda: prepare(source))
                if prepared is None:
                    continue
                target, data = prepared
                if threads is None:
                    attempt(source, lambda: work_on(source, target, data))
                    console.clear_line()
                    continue
                pending.append((source, threads.submit(_holding_lines, work, source, data, target, console)))
                while len(pending) >= 2 * codecs.jobs or (pending and pending[0][1].done()):
                    attempt(*report(*pending.popleft()))
            while pending:
                attempt(*report(*pending.popleft()))
    except KeyboardInterrupt as interruption:  # Ctrl-C, or SIGTERM or SIGHUP (_Terminated)
        codecs.stop()  # the -j workers end now, not after their images: nothing is left behind
        _interrupted(context, interruption)
    finally:
        for _, future in pending:
            future.cancel()
        if threads is not None:
            threads.shutdown(wait=True, cancel_futures=True)
        codecs.close()
        restore_signals()
    console.finish(len(inputs), compressing)
    if console.failed:
        context.exit(EXIT_ERROR)


class _Console:
    """Messages on stderr; clears the progress bar's line before printing over it."""

    def __init__(self, summaries: bool, verbose: bool, quiet: bool = False, image_line: bool = False):
        self.summaries = summaries
        self.verbose = verbose
        self.quiet = quiet
        self.image_line = image_line  # a progress line within the one image, redrawn in place (a terminal only)
        self._line_drawn = False
        self.failed = 0
        self.done = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self._bar: Any = None

    @contextlib.contextmanager
    def progress(self, items: Sequence[str], label: str, enabled: bool) -> Iterator[Any]:
        if not enabled:
            yield iter(items)
            return
        stderr = sys.stderr
        with click.progressbar(items, label=label, show_pos=True, file=stderr) as bar:
            # Off a terminal click prints the label once and no bar: nothing to clear or redraw.
            self._bar = bar if _is_terminal(stderr) else None
            try:
                yield bar
            finally:
                self._bar = None

    def image_progress(self, source: str, label: str) -> dict[str, Callable[[float], None]]:
        """The codec's ``progress`` option: a line '<name>: compressing 42 %' redrawn on stderr as one big image is
        coded, when stderr is a terminal and there is a single input; {} (no option) otherwise."""
        if not self.image_line:
            return {}
        name, shown = _one_line(_input_name(source)), [-1]

        def draw(fraction: float) -> None:
            percent = int(fraction * 100)
            if percent != shown[0]:
                shown[0] = percent
                with _SAY_LOCK:
                    click.echo(f"\r\033[K{name}: {label} {percent:3d} %", err=True, nl=False)
                    self._line_drawn = True

        return {"progress": draw}

    def clear_line(self) -> None:
        """Take the progress line of one image off the terminal (nothing if none is drawn)."""
        with _SAY_LOCK:
            if self._line_drawn:
                click.echo("\r\033[K", err=True, nl=False)
                self._line_drawn = False

    def say(self, message: str) -> None:
        if getattr(_HELD, "lines", None) is not None:  # a -j worker thread: held for the main thread
            _HELD.lines.append(message)
            return
        with _SAY_LOCK:
            clear = self._bar is not None or self._line_drawn
            self._line_drawn = False  # a line said over the image's progress line ends it (the coding is done)
            click.echo(("\r\033[K" if clear else "") + _one_line(message), err=True)
            if self._bar is not None:
                self._bar.render_progress()

    def error(self, message: str) -> None:
        self.say(f"aec: error: {message}")

    def totals(self, raw_bytes: int, compressed_bytes: int) -> None:
        with _SAY_LOCK:
            self._add(raw_bytes, compressed_bytes)

    def _add(self, raw_bytes: int, compressed_bytes: int) -> None:
        self.done += 1
        self.bytes_in += raw_bytes
        self.bytes_out += compressed_bytes

    def finish(self, count: int, compressing: bool) -> None:
        """After several inputs, one summary line (files, bytes in and out, ratio); with --quiet only the failures."""
        if count < 2:
            return
        failed = f"{self.failed} of {count} files failed"
        if self.quiet:
            if self.failed:
                self.say(f"aec: {failed}")
            return
        images, compressed = self.bytes_in, self.bytes_out
        read, written = (images, compressed) if compressing else (compressed, images)
        ratio = f", ratio {images / compressed:.2f}:1" if compressed else ""
        self.say(f"aec: {self.done} of {count} files {'compressed' if compressing else 'decompressed'}, "
                 f"{read:,} -> {written:,} bytes{ratio}" + (f"; {failed}" if self.failed else ""))


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
            raise CliError(f"cannot make the folder {folder}: {reason(error)}") from None


def _check_stdout(target: str) -> None:
    if target == STDIO and _is_terminal(_stdio("stdout")):
        raise CliError("refusing to write binary data to a terminal; redirect stdout or give -o FILE")


def _check_target(source: str, target: str, *, force: bool, written: dict[str, str]) -> None:
    """Refuse, before any work, outputs that would overwrite the input, a file or an earlier output."""
    if target == STDIO:
        return
    if source != STDIO and same_file(source, target):
        raise CliError(f"output {target} is the input file; give another name with -o")
    earlier = written.get(normalise(target))
    if earlier is not None:
        raise CliError(f"{_input_name(source)}: output {target} was already written from {earlier} in this run; "
                       "give the inputs distinct names")
    kind = special_kind(target)
    if kind == "socket":
        raise CliError(f"{target} is a socket; aec writes files, devices and pipes")
    if kind == "block device" and not force:
        raise CliError(f"{target} is a block device (a disk); use -f to write into it")
    if kind is None and not force and os.path.lexists(target):
        raise CliError(f"{target} already exists; use -f to overwrite it")


def _coded_quality(codec: Any, coded: bytes, data: bytes, source: str,
                   max_pixels: int | None) -> tuple[float, float | None]:
    """PSNR (dB) and MS-SSIM of a file's decoded image against the image it was coded from, on the planes aec codes
    (RGB, or the gray plane; alpha is lossless); MS-SSIM None for an image under 161 pixels on a side."""
    import numpy as np

    from .api import _coded_planes, _coded_psnr
    from .images import load
    from .metrics import MS_SSIM_MIN_SIDE, ms_ssim

    original = load(_named_buffer(data, _input_name(source)), max_pixels or DEFAULT_MAX_PIXELS, True).rgb
    decoded = np.asarray(codec.decode(coded).image)
    planes, reference = _coded_planes(decoded, original)
    structural = ms_ssim(reference, planes) if min(reference.shape[:2]) >= MS_SSIM_MIN_SIDE else None
    return _coded_psnr(decoded, original), structural


# ----------------------------------------------------------------------------------------------------------
# The codec, loaded at most once per command


class _Codecs:
    """Loads the Codec on first use only, so --help, info and inputs that fail early never load a model."""

    def __init__(self, model_id: str | None, weights: str | None, max_pixels: int | None, *, encoding: bool,
                 jobs: int = 1, threads: int | None = None, refining: bool = False):
        self._model_id = model_id
        self._refining = refining  # an effort above 0: the torch model is loaded too
        # -j workers take one core each unless --threads says otherwise: more would only fight for the cores.
        self._threads = threads if threads is not None or jobs == 1 else 1
        self._weights = weights
        self._max_pixels = max_pixels
        self._encoding = encoding
        self._codec: Any = None
        self.jobs = jobs
        self._lock = threading.Lock()  # -j: the first worker threads ask at once

    def get(self) -> Any:
        """The codec, with the model the command line chose (or, to encode, the default one) loaded.

        That model failing to load stops the command; a model that a file names loads when the file is decoded,
        and failing to load fails that file only.
        """
        with self._lock:
            if self._codec is None:
                self._codec = self._load()
            return self._codec

    def close(self) -> None:
        if isinstance(self._codec, PooledCodec):
            self._codec.close()

    def stop(self) -> None:
        """End the -j worker processes now (an interrupted command): what they are coding is not waited for."""
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
            reason = reason(error) if isinstance(error, OSError) else str(error)
            message = f"cannot load the model: {reason}"
            # A model the command line names is a bad option value (exit 2); the default model failing is not.
            for value, hint in ((self._weights, "'--weights'"), (self._model_id, "'--model'")):
                if value is not None:
                    raise click.BadParameter(message, param_hint=hint) from None
            raise FatalError(message) from None
        return PooledCodec(codec, self.jobs) if self.jobs > 1 else codec


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _jobs(jobs: int | None, inputs: Sequence[str]) -> int:
    """Worker processes for -j: 0 is one per core, None (no -j) chooses (``_auto_jobs``); never more than the inputs."""
    wanted = _auto_jobs(inputs) if jobs is None else jobs or _cores()
    return max(1, min(wanted, len(inputs)))


def _auto_jobs(inputs: Sequence[str]) -> int:
    """One worker per core when the inputs' coding outweighs the start of the workers, else 1 (this process).

    A worker pays a start (spawn, import torch, load the model: ``AUTO_JOBS_MEGAPIXELS``), and splitting the work
    over the cores pays it back once the inputs hold about that many megapixels. Many files are taken to hold
    that many; for a few, the pixels are read from their headers (Pillow's, or the .aec container's).
    """
    cores = _cores()
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
                               max_pixels=_NO_PIXEL_LIMIT)[0]
                return header.width * header.height
            from .images import open_header  # Image.open without Pillow's bomb warning: aec judges the size later

            with open_header(source) as image:  # the header only
                return image.width * image.height
    except Exception:  # noqa: BLE001  (the input's own failure is reported when it is coded)
        return 0


# ----------------------------------------------------------------------------------------------------------
# Input and output


def _is_terminal(stream: Any) -> bool:
    """True if the stream is an interactive terminal (a separate function so tests can pretend)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _stdio(name: str) -> Any:
    """sys.stdin or sys.stdout as a binary stream (click.get_binary_stream is deprecated from click 8.5 on); CliError
    when the process was started with it closed (`<&-`, `>&-`: Python then has None)."""
    stream = getattr(sys, name)
    if stream is None:
        doing = "read stdin" if name == "stdin" else "write to stdout"
        raise CliError(f"cannot {doing}: Bad file descriptor (it is closed)")
    return getattr(stream, "buffer", stream)


def _stdout_failed(error: OSError) -> CliError:
    """The one-line error of a failed write to stdout; after a broken pipe, stdout is pointed at /dev/null so that the
    interpreter's last flush at exit does not print a second error (Python's documented remedy)."""
    if isinstance(error, BrokenPipeError):
        with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
    return CliError(f"cannot write to stdout: {reason(error)}")


def _write_output(target: str, data: bytes, *, force: bool) -> None:
    """Write data to stdout, or to a file (``aec.outputs.write_file``: atomic, never over a file without -f)."""
    if target != STDIO:
        write_file(target, data, force=force)
        return
    stream = _stdio("stdout")
    try:
        write_all(stream, data)
    except OSError as error:
        raise _stdout_failed(error) from None


def _read_input(source: str, max_pixels: int | None, *, magic: bytes | None = None) -> bytes:
    """An input's bytes in bounded memory (aec.inputs): at most what an image within the pixel limit needs, and with
    ``magic`` only its first bytes if they are not it; devices are refused by name."""
    limit = input_limit(max_pixels or DEFAULT_MAX_PIXELS)
    if source != STDIO and os.path.isdir(source):
        raise CliError(f"{source} is a folder; give -r to take the files below it")
    try:
        if source != STDIO:
            return read_path(source, limit, magic=magic)
        stream = _stdio("stdin")
        if _is_terminal(stream):
            raise CliError("refusing to read binary data from a terminal; pipe a file in or name it")
        return read_stream(stream, limit, "<stdin>", magic=magic)
    except AECError as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"cannot read stdin: {reason(error)}") from None


# ----------------------------------------------------------------------------------------------------------
# Messages


def _quality(result: Any) -> str:
    """An EncodeResult's quality for a message: '75 (model quality 5.24)'."""
    return f"{result.quality:g} (model quality {result.header.quality:g})"


def _header_quality(header: Any) -> str:
    """A header's quality for `aec info`: '75 (model quality 5.24)', the 0-100 value where the manifest has the
    model's scale (torch-free)."""
    from .manifest import described_quality

    try:
        quality = described_quality(header.model_id, header.weights_tag, header.quality)
    except AECError:
        quality = None
    if quality is None:
        return f"model quality {header.quality:g} (no 0-100 scale here for model {header.model_id})"
    return f"{quality:g} (model quality {header.quality:g})"


def _named(source: str, error: Exception) -> str:
    """The message of error, starting with the input's name unless the codec already put it there."""
    name, message = _input_name(source), str(error)
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _named_buffer(data: bytes, name: str) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name  # the codec names its input after this in error messages
    return buffer


def _input_name(source: str) -> str:
    return "<stdin>" if source == STDIO else source


def _output_name(target: str) -> str:
    return "<stdout>" if target == STDIO else target




def _print_error(message: str) -> None:
    click.echo(f"aec: error: {_one_line(message)}", err=True)


# Control characters as Python writes them in a repr (a newline in a file name is \n), so that every message stays
# one line and a name cannot move the terminal's cursor or colours.
_ESCAPES = {**{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))},
            ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _one_line(message: str) -> str:
    """The message with its control characters escaped (names come from strangers: file names, archives)."""
    return message.translate(_ESCAPES)


def _interrupted(context: click.Context, interruption: BaseException | None = None) -> None:
    """Exit as an interrupted command does: 130 after Ctrl-C, 128 + the signal's number after SIGTERM or SIGHUP."""
    number = getattr(interruption, "signal_number", None)
    with contextlib.suppress(OSError, ValueError):  # stderr may be gone with the terminal that sent SIGHUP
        click.echo("\naec: interrupted" if number is None else f"aec: terminated by {signal.Signals(number).name}",
                   err=True)
    context.exit(EXIT_INTERRUPTED if number is None else 128 + number)


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that the command stops as Ctrl-C stops it."""

    def __init__(self, signal_number: int):
        super().__init__(signal_number)
        self.signal_number = signal_number


def _stop_on_termination_signals() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP (timeout, a service stop, a closed SSH session) stop the command as Ctrl-C does: no
    partial output, the -j workers and multiprocessing's resource tracker ended, exit 128 + the signal's number.
    Their default action would end this process alone and orphan the workers. A signal the caller ignores (nohup)
    stays ignored; the second signal during the cleanup is ignored too. Returns what puts the handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}
    raised: list[int] = []

    def stop(number: int, frame: Any) -> None:
        if not raised:
            raised.append(number)
            raise _Terminated(number)

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, stop)

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


if __name__ == "__main__":
    main()
