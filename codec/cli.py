"""The aec command line: `aec compress`, `aec decompress` and `aec info`, in the habits of gzip and zstd."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from .bitstream import MAGIC, AECError, parse
from . import __version__, allocator
from .batch import (NO_PIXEL_LIMIT, AUTO_JOBS_FILES, AUTO_JOBS_MEGAPIXELS, STDIO, Batch, BatchError, BatchUsageError,
                    FatalError, Outcome, WorkersFailed, input_name, jobs_for, output_name, read_input, expand, held)
from .config import MAX_EFFORT
from .errors import OutputError
from .outputs import AEC_SUFFIX, is_terminal, named_format, output_format

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

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
  aec compress --model-quality 4 photo.png      the model's own scale (1-10)
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


# ----------------------------------------------------------------------------------------------------------
# Commands


@click.group(name="aec", context_settings=CONTEXT_SETTINGS, epilog=MAIN_EPILOG,
             help=f"aec: a learned image codec (.png and friends <-> .aec).\n\n{MAIN_USAGE}")
@click.version_option(__version__, "-V", "--version", prog_name="aec", message="%(prog)s %(version)s")
def main() -> None:
    """aec: a learned image codec (.png and friends <-> .aec); ``aec --help`` gives the usage."""
    warnings.showwarning = _show_warning
    allocator.tune()  # this process codes: kept heap pages instead of fresh ones for every array (aec.allocator)


def _show_warning(message: Warning | str, category: type, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Warnings (e.g. a 16-bit image reduced to 8 bits) as one line on stderr, not a source location."""
    _emit(f"aec: warning: {message}")


def _emit(line: str) -> None:
    line = _one_line(line)
    if not held(line):  # a -j worker thread's warning is said with its input's outcome, in input order
        click.echo(line, err=True)


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
@click.option("--model-quality", type=_Number("a number in the model's range, e.g. 1 to 10"), metavar="MQ",
              help="The model's own quality scale instead of -q (1 to 10 for the default model, 1 to 6 for the "
                   "others), as the file's header stores it.")
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

    with _usage_errors():
        inputs, subfolders = expand(inputs, recursive, IMAGE_SUFFIXES | {".gif", ".avif"}, "image")
    _check_arguments(inputs, output, verbose, quiet, recursive)
    targets = {name: value for name, value in (("target_size", target_size), ("target_bpp", target_bpp),
                                               ("target_psnr", target_psnr)) if value is not None}
    if len(targets) + (quality is not None) + (model_quality is not None) > 1:
        raise click.UsageError("give one of -q, --model-quality, --target-size, --target-bpp and --target-psnr")
    batch = Batch(inputs, output, compressing=True, subfolders=subfolders, jobs=jobs_for(jobs, inputs), threads=threads,
                  force=force, max_pixels=max_pixels, model_id=model_id, weights=weights, measure=verbose,
                  quality=quality, model_quality=model_quality, effort=effort, strip=strip, **targets)

    def say(outcome: Outcome, console: _Console) -> None:
        source, target, result = outcome.source, outcome.target, outcome.result
        if result is not None and result.target_met is False:
            (name, value), = targets.items()
            console.say(f"aec: warning: {input_name(source)}: {name.replace('_', ' ')} {value:g} is out of reach; "
                        f"coded at the nearest quality, {_quality(result)}")
        if not outcome.ok:
            return
        header, bpp = result.header, result.bits_per_pixel
        size = f"{header.width}x{header.height}"
        if verbose:  # as cwebp -print_psnr: the file decoded again and compared with what was coded
            console.say(f"{input_name(source)} -> {output_name(target)}: {size}, quality {_quality(result)}, "
                        f"effort {result.effort}, {outcome.input_bytes} -> {outcome.output_bytes} bytes, "
                        f"{bpp:.3f} bpp, PSNR {outcome.psnr:.2f} dB"
                        + (f", MS-SSIM {outcome.ms_ssim:.4f}" if outcome.ms_ssim is not None else "")
                        + f", {outcome.seconds:.2f} s")
        elif console.summaries and target != STDIO:
            console.say(f"{input_name(source)} -> {output_name(target)}: {size}, {bpp:.3f} bpp")
        console.totals(outcome.input_bytes, outcome.output_bytes)

    _run(context, batch, "compressing", say, verbose=verbose, quiet=quiet)


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
    with _usage_errors():
        inputs, subfolders = expand(inputs, recursive, {AEC_SUFFIX}, ".aec")
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
    batch = Batch(inputs, output, compressing=False, subfolders=subfolders, jobs=jobs_for(jobs, inputs),
                  threads=threads, force=force, max_pixels=max_pixels, weights=weights, image_format=forced)

    def say(outcome: Outcome, console: _Console) -> None:
        if not outcome.ok:
            return
        source, target, header, mode = outcome.source, outcome.target, outcome.result.header, outcome.result.image.mode
        width, height = header.width, header.height
        if verbose:
            bpp = 8 * outcome.input_bytes / (width * height)
            console.say(f"{input_name(source)} -> {output_name(target)}: {width}x{height} {mode}, "
                        f"{outcome.input_bytes} -> {outcome.output_bytes} bytes, {bpp:.3f} bpp, "
                        f"{outcome.seconds:.2f} s")
        elif console.summaries and target != STDIO:
            console.say(f"{input_name(source)} -> {output_name(target)}: {width}x{height} {mode}")
        console.totals(outcome.output_bytes, outcome.input_bytes)

    _run(context, batch, "decompressing", say, verbose=verbose, quiet=quiet)


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
    listed = sorted(manifest.get("models", {}).items(), reverse=True)  # newest release first ...
    # ... the default, then the other installed models, those that decode only, then the retired ones
    listed.sort(key=lambda item: (bool(item[1].get("retired_after")), bool(item[1].get("decoder_only")),
                                  item[0] != manifest.get("default")))
    for model_id, entry in listed:
        steps = entry.get("training", {}).get("steps")
        qualities = sorted(float(quality) for quality in entry.get("quality_table", {}))
        if entry.get("retired_after"):
            status = f"retired (aec {entry['retired_after']} decodes its files)"
        elif not (WEIGHTS_DIR / str(entry.get("file", ""))).is_file():
            status = "missing (its file is not installed; reinstall aec)"
        elif entry.get("decoder_only"):
            status = f"decodes only (since aec {entry['decoder_only']['since']})"
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
                data = read_input(source, None, magic=MAGIC)
                header, sections = parse(data, max_pixels=NO_PIXEL_LIMIT)
            except BatchError as error:
                failed += 1
                _print_error(str(error))
                continue
            except AECError as error:
                failed += 1
                _print_error(f"{input_name(source)}: {error}")
                continue
            click.echo(("\n" if shown else "") + _describe(_one_line(input_name(source)), data, header, sections))
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


def _run(context: click.Context, batch: Batch, label: str, say: Callable[[Outcome, "_Console"], None], *,
         verbose: bool, quiet: bool) -> None:
    """Run the batch, saying each input's outcome (say: its lines); report failures, exit 1 if any failed.

    A usage error (e.g. a quality the model does not take) stops the command with exit 2, a failure no input can
    survive (the model, the -j workers) with exit 1. With -j N, outcomes are said in input order.
    """
    several = len(batch.inputs) > 1
    console = _Console(summaries=not quiet and not several, verbose=verbose, quiet=quiet,
                       image_line=not several and not quiet and batch.jobs == 1 and is_terminal(sys.stderr))

    def report(outcome: Outcome) -> None:
        for line in outcome.lines:  # a -j worker thread's warnings
            console.say(line)
        say(outcome, console)
        if not outcome.ok:
            console.error(outcome.error)
            console.failed += 1
        console.clear_line()

    # A bar only on a terminal: off one, click would print its bare label, which is no warning, error or summary.
    bar = several and not quiet and is_terminal(sys.stderr)
    restore_signals = _stop_on_termination_signals()
    try:
        with _usage_errors():
            batch.run(report, image_progress=lambda source: console.image_progress(source, label).get("progress"),
                      iterate=lambda items: console.progress(items, label, enabled=bar))
    except KeyboardInterrupt as interruption:  # Ctrl-C, or SIGTERM or SIGHUP (_Terminated)
        _interrupted(context, interruption)
    except (FatalError, WorkersFailed) as error:  # nothing else can succeed: no per-file summary either
        console.error(str(error))
        context.exit(EXIT_ERROR)
    finally:
        restore_signals()
    console.finish(len(batch.inputs), batch.compressing)
    if console.failed:
        context.exit(EXIT_ERROR)


_OPTIONS = {"model_quality": "'--model-quality'", "weights": "'--weights'", "model_id": "'--model'"}


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """aec.batch's BatchUsageError as click's usage error (exit 2), naming the option the argument came from."""
    try:
        yield
    except BatchUsageError as error:
        if error.parameter is None:
            raise click.UsageError(str(error)) from None
        raise click.BadParameter(str(error), param_hint=_OPTIONS[error.parameter]) from None


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
            self._bar = bar if is_terminal(stderr) else None
            try:
                yield bar
            finally:
                self._bar = None

    def image_progress(self, source: str, label: str) -> dict[str, Callable[[float], None]]:
        """The codec's ``progress`` option: a line '<name>: compressing 42 %' redrawn on stderr as one big image is
        coded, when stderr is a terminal and there is a single input; {} (no option) otherwise."""
        if not self.image_line:
            return {}
        name, shown = _one_line(input_name(source)), [-1]

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
