"""Turn per-image results into curves, BD and speed tables, CSV/JSON files, RD plots and the crop figure."""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from benchmarks import adapters, bd
from benchmarks.metrics import ms_ssim_db

# Published curves drawn on the plots by default (all of them go into the BD table).
DEFAULT_PLOTTED_REFERENCES = ("vtm", "bpg444", "bmshj2018-hyperprior", "mbt2018-mean", "minnen2020-channelwise")
REFERENCE_LABELS = {
    "vtm": "VTM (VVC intra)",
    "hm": "HM (HEVC intra)",
    "bpg444": "BPG 4:4:4",
    "av1": "AV1 (libaom)",
    "bmshj2018-hyperprior": "Ballé 2018 hyperprior",
    "mbt2018-mean": "Minnen 2018 mean-scale",
    "mbt2018": "Minnen 2018 + context",
    "cheng2020-anchor": "Cheng 2020 anchor",
    "minnen2020-channelwise": "Minnen 2020 channel-wise",
    "elic2022": "ELIC 2022",
}
REFERENCE_STYLES = ["black", "0.5", "tab:pink", "darkgoldenrod", "teal", "navy", "darkred", "limegreen", "indigo", "0.75"]


@dataclass(frozen=True)
class ImageResult:
    """One codec at one quality on one image: the raw per-image row."""

    codec: str
    quality: float
    image: str
    width: int
    height: int
    bytes: int
    bpp: float
    psnr: float
    ms_ssim: float
    ms_ssim_db: float
    encode_ms: float
    decode_ms: float


@dataclass(frozen=True)
class CurvePoint:
    """One point of a rate-distortion curve: means over the images (bpp, PSNR, MS-SSIM) and median times."""

    codec: str
    quality: float
    bpp: float
    psnr: float
    ms_ssim: float
    ms_ssim_db: float
    encode_ms: float | None = None
    decode_ms: float | None = None
    images: int | None = None


@dataclass(frozen=True)
class SpeedRow:
    """Median time per image for one codec over all its qualities and images, and its peak memory."""

    codec: str
    label: str
    encode_ms: float
    decode_ms: float
    encode_mpix_per_s: float
    decode_mpix_per_s: float
    encode_peak_mib: float | None
    decode_peak_mib: float | None
    measurements: int


@dataclass(frozen=True)
class BDRow:
    """The BD figures of the test codec against one anchor curve."""

    anchor: str
    label: str
    source: str  # "measured" or "published"
    bd_rate_psnr: bd.BDResult
    bd_psnr: bd.BDResult
    bd_rate_ms_ssim: bd.BDResult


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values) if values else math.nan


def _median(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else None


def summarize_curves(rows: Sequence[ImageResult], expected_images: int) -> tuple[list[CurvePoint], list[str]]:
    """Average the per-image rows into one point per codec and quality.

    PSNR and MS-SSIM are averaged over images (then MS-SSIM is put on the dB scale), as CompressAI does. A point
    missing some images (an encode failed) would average over a different set, so it is left out with a message.
    """
    groups: dict[tuple[str, float], list[ImageResult]] = {}
    for row in rows:
        groups.setdefault((row.codec, row.quality), []).append(row)
    points, dropped = [], []
    for (codec, quality), group in groups.items():
        if len(group) != expected_images:
            dropped.append(f"{codec} q={quality:g}: {len(group)} of {expected_images} images, left out of the curve")
            continue
        mean_ms_ssim = _mean(r.ms_ssim for r in group)
        points.append(
            CurvePoint(
                codec=codec,
                quality=quality,
                bpp=_mean(r.bpp for r in group),
                psnr=_mean(r.psnr for r in group),
                ms_ssim=mean_ms_ssim,
                ms_ssim_db=ms_ssim_db(mean_ms_ssim),
                encode_ms=_median(r.encode_ms for r in group),
                decode_ms=_median(r.decode_ms for r in group),
                images=len(group),
            )
        )
    return points, dropped


def by_codec(points: Iterable[CurvePoint]) -> dict[str, list[CurvePoint]]:
    """Curve points grouped by codec, each group sorted by rate."""
    curves: dict[str, list[CurvePoint]] = {}
    for point in points:
        curves.setdefault(point.codec, []).append(point)
    return {codec: sorted(curve, key=lambda p: p.bpp) for codec, curve in curves.items()}


def speed_table(
    rows: Sequence[ImageResult], labels: dict[str, str], peaks: dict[str, tuple[float | None, float | None]]
) -> list[SpeedRow]:
    """Median encode/decode time and throughput per image for each codec, with its (encode, decode) peak MiB."""
    table = []
    for codec, label in labels.items():
        group = [r for r in rows if r.codec == codec]
        if not group:
            continue
        table.append(
            SpeedRow(
                codec=codec,
                label=label,
                encode_ms=_median(r.encode_ms for r in group),
                decode_ms=_median(r.decode_ms for r in group),
                encode_mpix_per_s=_median(r.width * r.height / 1e3 / r.encode_ms for r in group if r.encode_ms > 0),
                decode_mpix_per_s=_median(r.width * r.height / 1e3 / r.decode_ms for r in group if r.decode_ms > 0),
                encode_peak_mib=peaks.get(codec, (None, None))[0],
                decode_peak_mib=peaks.get(codec, (None, None))[1],
                measurements=len(group),
            )
        )
    return table


def load_reference(directory: Path) -> dict[str, list[CurvePoint]]:
    """Published curves from CSV files with the columns codec,quality,bpp,psnr,ms_ssim (ms_ssim may be empty)."""
    curves = {}
    for path in sorted(directory.glob("*.csv")):
        points = []
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                ms_ssim = float(row["ms_ssim"]) if row.get("ms_ssim") else math.nan
                points.append(
                    CurvePoint(
                        codec=path.stem,
                        quality=float(row["quality"]),
                        bpp=float(row["bpp"]),
                        psnr=float(row["psnr"]),
                        ms_ssim=ms_ssim,
                        ms_ssim_db=ms_ssim_db(ms_ssim),
                    )
                )
        if points:
            curves[path.stem] = sorted(points, key=lambda p: p.bpp)
    return curves


def bd_table(
    test: list[CurvePoint],
    anchors: dict[str, list[CurvePoint]],
    labels: dict[str, str],
    source: str,
    method: str = "pchip",
) -> list[BDRow]:
    """BD-rate (PSNR), BD-PSNR and BD-rate (MS-SSIM dB) of the test curve against each anchor curve."""

    def columns(curve: list[CurvePoint]):
        return [p.bpp for p in curve], [p.psnr for p in curve], [p.ms_ssim_db for p in curve]

    test_bpp, test_psnr, test_ms_ssim = columns(test)
    rows = []
    for name, anchor in anchors.items():
        anchor_bpp, anchor_psnr, anchor_ms_ssim = columns(anchor)
        rows.append(
            BDRow(
                anchor=name,
                label=labels.get(name, name),
                source=source,
                bd_rate_psnr=bd.bd_rate(anchor_bpp, anchor_psnr, test_bpp, test_psnr, method),
                bd_psnr=bd.bd_quality(anchor_bpp, anchor_psnr, test_bpp, test_psnr, method),
                bd_rate_ms_ssim=bd.bd_rate(anchor_bpp, anchor_ms_ssim, test_bpp, test_ms_ssim, method),
            )
        )
    return rows


# --- files ---------------------------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def write_csv(path: Path, records: Sequence) -> None:
    """Dataclass records as CSV; inf stays 'inf' (lossless), None becomes an empty cell."""
    if not records:
        path.write_text("")
        return
    names = [f.name for f in fields(records[0])]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for record in records:
            writer.writerow([_cell(getattr(record, name)) for name in names])


BD_FIGURES = ("bd_rate_psnr", "bd_psnr", "bd_rate_ms_ssim")
BD_COLUMNS = ["anchor", "label", "source"] + [
    figure + suffix for figure in BD_FIGURES for suffix in ("", "_note", "_overlap", "_overlap_fraction")
]


def bd_csv_rows(rows: Sequence[BDRow]) -> list[dict]:
    """The BD table flattened to plain values (None where a figure is n/a), in the order of BD_COLUMNS."""
    flat = []
    for row in rows:
        entry = {"anchor": row.anchor, "label": row.label, "source": row.source}
        for figure in BD_FIGURES:
            result: bd.BDResult = getattr(row, figure)
            entry[figure] = result.value
            entry[figure + "_note"] = result.reason
            entry[figure + "_overlap"] = list(result.overlap) if result.overlap else None
            entry[figure + "_overlap_fraction"] = result.overlap_fraction
        flat.append(entry)
    return flat


def write_bd_csv(path: Path, rows: Sequence[BDRow]) -> None:
    """The BD table as CSV (just the header when there is no test curve); an overlap is written 'low to high'."""
    flat = bd_csv_rows(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=BD_COLUMNS)
        writer.writeheader()
        for entry in flat:
            writer.writerow(
                {k: " to ".join(f"{x:.4g}" for x in v) if isinstance(v, list) else _cell(v) for k, v in entry.items()}
            )


def _json_safe(value):
    """Plain JSON values; inf and nan become null (lossless PSNR is marked by the codec's `lossless` flag)."""
    if isinstance(value, float):
        # Seven significant digits: more than any metric here is good for, and a smaller file.
        return float(f"{value:.7g}") if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _json_safe(asdict(value))
    return value


def write_json(path: Path, summary: dict) -> None:
    path.write_text(json.dumps(_json_safe(summary), indent=1, allow_nan=False) + "\n")


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def bd_markdown(rows: Sequence[BDRow], test_label: str) -> str:
    """The BD table as Markdown: negative BD-rate means the test codec needs fewer bits."""
    lines = [
        f"| {test_label} against | source | BD-rate (PSNR) | BD-PSNR | BD-rate (MS-SSIM dB) | PSNR range compared |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        overlap = row.bd_rate_psnr.overlap
        span = f"{overlap[0]:.1f}–{overlap[1]:.1f} dB" if overlap else "–"
        lines.append(
            f"| {row.label} | {row.source} | {row.bd_rate_psnr.format(' %')} | {row.bd_psnr.format(' dB', 2)} "
            f"| {row.bd_rate_ms_ssim.format(' %')} | {span} |"
        )
    return "\n".join(lines) + "\n"


def speed_markdown(rows: Sequence[SpeedRow]) -> str:
    lines = [
        "| codec | encode ms | decode ms | encode MP/s | decode MP/s | encode peak MiB | decode peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {_fmt(row.encode_ms, 1)} | {_fmt(row.decode_ms, 1)} | {_fmt(row.encode_mpix_per_s, 2)} "
            f"| {_fmt(row.decode_mpix_per_s, 2)} | {_fmt(row.encode_peak_mib, 1)} | {_fmt(row.decode_peak_mib, 1)} |"
        )
    return "\n".join(lines) + "\n"


def curves_markdown(curves: dict[str, list[CurvePoint]], labels: dict[str, str]) -> str:
    """One line per codec: its quality sweep and the bpp / PSNR / MS-SSIM span it covers."""
    lines = [
        "| codec | points | qualities | bpp | PSNR (dB) | MS-SSIM (dB) |",
        "|---|---:|---|---|---|---|",
    ]
    for codec, curve in curves.items():
        low, high = curve[0], curve[-1]
        qualities = ", ".join(f"{p.quality:g}" for p in sorted(curve, key=lambda p: p.quality))
        lines.append(
            f"| {labels.get(codec, codec)} | {len(curve)} | {qualities} | {_fmt(low.bpp, 3)}–{_fmt(high.bpp, 3)} "
            f"| {_fmt(low.psnr, 2)}–{_fmt(high.psnr, 2)} | {_fmt(low.ms_ssim_db, 2)}–{_fmt(high.ms_ssim_db, 2)} |"
        )
    return "\n".join(lines) + "\n"


# --- figures -------------------------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    # The object-oriented API with an explicit Agg canvas: no global pyplot state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(figure)
    return figure


def plot_rd(
    path: Path,
    metric: str,
    measured: dict[str, list[CurvePoint]],
    labels: dict[str, str],
    references: dict[str, list[CurvePoint]],
    title: str,
    highlight: str = "aec",
    max_bpp: float = 2.0,
    footnote: str = "",
) -> None:
    """Quality (metric "psnr" or "ms_ssim_db") against bpp: measured curves solid, published ones dashed."""
    figure = _figure(11.0, 6.5)
    axes = figure.add_subplot()
    shown: list[float] = []

    def draw(curve, **style):
        points = [p for p in curve if math.isfinite(getattr(p, metric))]
        if len(points) < 1:
            return
        xs, ys = [p.bpp for p in points], [getattr(p, metric) for p in points]
        axes.plot(xs, ys, **style)
        shown.extend(y for x, y in zip(xs, ys) if x <= max_bpp)

    for index, (name, curve) in enumerate(references.items()):
        draw(
            curve,
            linestyle="--",
            linewidth=1.3,
            marker=".",
            markersize=5,
            color=REFERENCE_STYLES[index % len(REFERENCE_STYLES)],
            label=f"{REFERENCE_LABELS.get(name, name)} (published)",
        )
    for codec, curve in measured.items():
        emphasis = codec == highlight
        draw(
            curve,
            linestyle="-",
            linewidth=2.8 if emphasis else 1.6,
            marker="o",
            markersize=5 if emphasis else 3.5,
            color=adapters.PLOT_COLOURS.get(codec),
            label=labels.get(codec, codec),
            zorder=3 if emphasis else 2,
        )
    axes.set_xlim(0.0, max_bpp)
    _mark_ends(axes, measured.get(highlight, []), metric, max_bpp, labels.get(highlight, highlight))
    if shown:
        low, high = min(shown), max(shown)
        margin = 0.04 * (high - low or 1.0)
        axes.set_ylim(low - margin, high + margin)
    axes.set_xlabel("bits per pixel (real file size, header included)", fontsize=12)
    ylabel = {"psnr": "RGB PSNR (dB)", "ms_ssim_db": "MS-SSIM (dB)  = −10·log10(1 − MS-SSIM)"}[metric]
    axes.set_ylabel(ylabel, fontsize=12)
    axes.set_title(title, fontsize=13)
    axes.grid(True, alpha=0.35)
    axes.tick_params(labelsize=11)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)
    note = "Solid: measured here. Dashed: published numbers (see SOURCES.md), not measured here."
    figure.text(0.01, 0.01, note + ("  " + footnote if footnote else ""), fontsize=9, color="0.3")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path)


def end_labels(curve: Sequence[CurvePoint], metric: str, name: str) -> list[tuple[CurvePoint, str]]:
    """Where a curve's range begins and ends, as (point, label) for its lowest- and highest-rate points."""
    points = sorted((p for p in curve if math.isfinite(getattr(p, metric))), key=lambda p: p.bpp)
    if not points:
        return []
    unit = "dB" if metric == "psnr" else "dB MS-SSIM"
    ends = [(points[0], "lowest"), (points[-1], "highest")] if len(points) > 1 else [(points[0], "only")]
    return [(p, f"{name}'s {which} point: {p.bpp:.2f} bpp, {getattr(p, metric):.1f} {unit}") for p, which in ends]


def _mark_ends(axes, curve: Sequence[CurvePoint], metric: str, max_bpp: float, name: str) -> None:
    """Label the ends of the highlighted curve, so the plot shows the range it covers (an end past the axis is
    labelled at the axis's right edge)."""
    for point, label in end_labels(curve, metric, name):
        x, y = min(point.bpp, max_bpp), getattr(point, metric)
        highest = point.bpp >= max(p.bpp for p in curve)
        text = label + (" (past the axis)" if point.bpp > max_bpp else "")
        axes.annotate(text, (x, y), xytext=(-8, 10) if highest else (8, -14), textcoords="offset points",
                      ha="right" if highest else "left", fontsize=9, color="0.15",
                      arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.6})


@dataclass(frozen=True)
class Crop:
    """A decoded crop of one codec at (about) the target rate, with the whole-image rate and quality."""

    codec: str
    label: str
    quality: float | None
    bpp: float | None
    psnr: float | None
    pixels: np.ndarray


def plot_crops(path: Path, crops: Sequence[Crop], title: str, note: str = "") -> None:
    """Side-by-side crops, each titled with codec, quality setting, bpp and PSNR of the whole image."""
    figure = _figure(3.3 * len(crops), 4.1)
    for index, crop in enumerate(crops):
        axes = figure.add_subplot(1, len(crops), index + 1)
        axes.imshow(crop.pixels, interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        if crop.bpp is None:
            caption = f"{crop.label}\n"
        else:
            caption = f"{crop.label} (q={crop.quality:g})\n{crop.bpp:.3f} bpp, {crop.psnr:.2f} dB"
        axes.set_title(caption, fontsize=10)
    figure.suptitle(title, fontsize=12)
    if note:
        figure.text(0.01, 0.01, note, fontsize=9, color="0.3")
    figure.tight_layout(rect=(0, 0.04 if note else 0, 1, 0.94))
    figure.savefig(path)


def write_markdown_report(
    path: Path,
    summary: dict,
    curves: dict[str, list[CurvePoint]],
    labels: dict[str, str],
    bd_rows: Sequence[BDRow],
    speed: Sequence[SpeedRow],
    has_crops: bool,
) -> None:
    """report.md: the command, the figures and every table of the run, ready to paste into a README."""
    dataset = summary["dataset"]
    machine = summary["machine"]
    test = summary["bd"]["test"]
    lines = [
        "# Rate-distortion benchmark",
        "",
        f"Made by `{summary['command']}` on {summary['started']} in {summary['wall_s'] / 60:.1f} min "
        f"({machine['cpu_count']} CPUs, {machine['platform']}, Python {machine['python']}, "
        f"{summary['method']['threads']} thread(s) per codec).",
        f"Images: {len(dataset['images'])} from `{dataset['folder']}`.",
        "",
        "![RGB PSNR against bpp](rd_psnr.png)",
        "",
        "![MS-SSIM against bpp](rd_msssim.png)",
        "",
        f"## BD-rate of {labels.get(test, test)}",
        "",
    ]
    if bd_rows:
        lines += [
            f"Negative BD-rate: {labels.get(test, test)} needs that much less rate for the same quality. "
            f"{summary['method']['bd']}. Published curves were measured by others on Kodak (see SOURCES.md).",
            "",
            bd_markdown(bd_rows, labels.get(test, test)),
        ]
    else:
        lines += [summary["bd"]["note"] + ".", ""]
    lines += ["## Curves", "", curves_markdown(curves, labels)]
    lines += [
        "## Speed",
        "",
        "Median wall time per image over all qualities and images on this machine. Peak memory: the rise of the "
        "peak resident set over one encode or decode of the first image at the middle quality, in a fresh process.",
        "",
        speed_markdown(speed),
    ]
    if has_crops:
        lines += ["## At about equal rate", "", "![Crops at about equal bpp](crops.png)", ""]
    lines += ["## Codecs", "", "| codec | versions | settings | quality is |", "|---|---|---|---|"]
    for name, codec in summary["codecs"].items():
        versions = ", ".join(f"{k} {v}" for k, v in codec["versions"].items())
        settings = ", ".join(f"{k}={v}" for k, v in codec["settings"].items())
        lines.append(f"| {codec['label']} | {versions} | {settings} | {codec['quality_meaning']} |")
    lines.append("")
    for name, reason in summary["skipped"].items():
        lines.append(f"- skipped {name}: {reason}")
    for message in summary["errors"]:
        lines.append(f"- error: {message}")
    lines += [
        "",
        "Method: " + "; ".join(f"{k}: {v}" for k, v in summary["method"].items() if k not in ("bd", "threads")) + ".",
        "",
    ]
    path.write_text("\n".join(lines))
