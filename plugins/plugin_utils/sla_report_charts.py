# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLA report's two charts, drawn by matplotlib as SVG to put inline in the HTML.

The SVG needs no other file and no network, and the same data always gives
the same bytes.
"""

from __future__ import annotations

import io
import re

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import html_text
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_texts import decimal
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError


class ReportRenderError(SlaInputError):
    """The report cannot be laid out: an unknown language, or no plotting library."""


# Fixed so that the same data always gives the same SVG bytes: the salt for
# matplotlib's generated ids, and its bundled font drawn as paths, so neither
# the viewer's fonts nor the machine's font list change the picture.
_CHART_STYLE = {
    "svg.hashsalt": "twovalue.sla sla report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
_COLOURS = {
    "met": "#2e7d32",
    "not_met": "#c62828",
    "pending": "#ef8c00",
    "target": "#212121",
}
# About 430 CSS pixels: on a phone the chart's text keeps its size.
_CHART_WIDTH_INCHES = 4.6
_BAR_INCHES = 0.3
_LABEL_CHARACTERS = 30


def _matplotlib():
    try:
        import matplotlib  # noqa: PLC0415  (only the HTML needs it)
        from matplotlib.figure import Figure  # noqa: PLC0415
        from matplotlib.lines import Line2D  # noqa: PLC0415
        from matplotlib.patches import Patch  # noqa: PLC0415
    except ImportError as exc:
        raise ReportRenderError(
            "the SLA report's charts need matplotlib on the controller: "
            "pip install -r requirements.txt"
        ) from exc
    return matplotlib, Figure, Patch, Line2D


def _shortened(label):
    if len(label) <= _LABEL_CHARACTERS:
        return label
    return label[: _LABEL_CHARACTERS - 1] + "…"


def _security_bars(updates, hours, texts):
    """One bar per group of updates seen and applied together: (label, hours, colour, hatched).

    A plan records its items microseconds apart, so updates of one host whose
    bars would read the same (same applied record, same rounded hours) share
    one bar; the table below the chart still lists each.
    """
    groups = {}
    for entry in updates:
        if entry["seconds"] is None:
            continue
        key = (entry["host"], entry["activity"], entry["applied"], round(entry["seconds"] / 360))
        groups.setdefault(key, []).append(entry)
    bars = []
    for (host, _activity, applied, _tenths), entries in sorted(
        groups.items(), key=lambda pair: (pair[1][0]["first_seen"], pair[0][0])
    ):
        label = f"{host}: {entries[0]['package']}"
        if len(entries) > 1:
            label += " " + texts["more_packages"].format(count=len(entries) - 1)
        value = entries[0]["seconds"] / 3600
        if value > hours:
            colour = _COLOURS["not_met"]
        else:
            colour = _COLOURS["met"] if applied else _COLOURS["pending"]
        bars.append((_shortened(label), value, colour, not applied))
    return bars


def _bar_chart(bars, target, chart, texts):
    """Horizontal bars against a dashed target line, each bar labelled with its value.

    ``chart`` names the strings (title, axis, unit, legend) of one of the two
    charts. A bar far past the target would squeeze the others to nothing,
    so the axis ends at three times the target and such a bar is cut there,
    its value still written on it.
    """
    matplotlib, Figure, Patch, Line2D = _matplotlib()
    values = [value for _label, value, _colour, _hatched in bars]
    limit = max([value for value in values if value <= 3 * target] + [target]) * 1.2
    with matplotlib.rc_context(_CHART_STYLE):
        figure = Figure(
            figsize=(_CHART_WIDTH_INCHES, 1.5 + _BAR_INCHES * len(bars)), layout="constrained"
        )
        axes = figure.add_subplot()
        drawn = axes.barh(
            range(len(bars)),
            [min(value, limit) for value in values],
            color=[colour for _label, _value, colour, _hatched in bars],
        )
        for bar, (_label, value, _colour, hatched) in zip(drawn, bars, strict=True):
            if hatched:
                bar.set_hatch("///")
                bar.set_edgecolor("white")
            text = f"{decimal(value, texts)} {chart['unit']}"
            if value > limit:
                axes.text(
                    limit * 0.98, bar.get_y() + bar.get_height() / 2, text,
                    ha="right", va="center", color="white", fontweight="bold",
                )  # fmt: skip
            else:
                axes.text(
                    value + limit * 0.01, bar.get_y() + bar.get_height() / 2, text,
                    ha="left", va="center",
                )  # fmt: skip
        axes.set_yticks(list(range(len(bars))), [label for label, *_rest in bars])
        axes.invert_yaxis()
        axes.set_xlim(0, limit)
        axes.axvline(target, color=_COLOURS["target"], linestyle="--", linewidth=1)
        axes.set_xlabel(chart["axis"])
        figure.suptitle(chart["title"], x=0.01, ha="left", fontsize=10)
        handles = [
            Patch(
                facecolor=colour, hatch=hatch, edgecolor="white" if hatch else colour, label=label
            )
            for label, colour, hatch in chart["legend"]
        ]
        handles.append(
            Line2D([], [], color=_COLOURS["target"], linestyle="--", label=chart["target"])
        )
        figure.legend(handles=handles, loc="outside lower center", ncols=2)
        return _svg(figure, chart["id"], chart["title"])


# Each chart's words: title, axis, unit, target line, and the legend's
# entries with their colour and hatching.
_CHART_TEXTS = {
    "security": (
        "chart_security_title", "axis_hours", "unit_hours", "legend_deadline",
        (("legend_in_time", "met", None), ("legend_late", "not_met", None),
         ("legend_pending", "pending", "///"), ("legend_overdue", "not_met", "///")),
    ),
    "periodic": (
        "chart_periodic_title", "axis_days", "unit_days", "legend_interval",
        (("legend_met", "met", None), ("legend_not_met", "not_met", None)),
    ),
}  # fmt: skip


def _chart(name, texts, **target):
    title, axis, unit, target_line, legend = _CHART_TEXTS[name]
    return {
        "id": f"chart-{name}",
        "title": texts[title],
        "axis": texts[axis],
        "unit": texts[unit],
        "target": texts[target_line].format(**target),
        "legend": [(texts[label], _COLOURS[colour], hatch) for label, colour, hatch in legend],
    }


def security_chart(updates, hours, texts):
    chart = _chart("security", texts, hours=hours)
    return _bar_chart(_security_bars(updates, hours, texts), hours, chart, texts)


def periodic_chart(hosts, days, texts):
    chart = _chart("periodic", texts, days=days)
    bars = [
        (
            _shortened(host),
            figures["measured"],
            _COLOURS["met"] if figures["met"] else _COLOURS["not_met"],
            False,
        )
        for host, figures in hosts.items()
    ]
    return _bar_chart(bars, days, chart, texts)


_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def _svg(figure, chart_id, title):
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline in HTML: no XML prolog or doctype, and ids unique across the
    # page's charts (matplotlib numbers each figure's elements from 1).
    svg = svg[svg.index("<svg") :]
    svg = _SVG_ID.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    svg = _SVG_REFERENCE.sub(lambda m: f"{m.group(1)}{chart_id}-{m.group(2)}", svg)
    label = html_text(title)
    return svg.replace("<svg", f'<svg role="img" aria-label="{label}" class="chart"', 1).strip()
