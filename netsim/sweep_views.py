"""The views of a sweep: sweep.csv, the terminal table, and one figure per budget."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .sweep_params import _QUANTITY, _show

__all__ = ["sweep_csv", "render_table", "write_figures", "budget_figure"]

MAX_TABLE_BUDGETS = 4
"""Most budget columns in the printed table (those closest to failing); all are in the CSV."""


# --- views: CSV, table, figures -------------------------------------------------------------


def sweep_csv(document: dict) -> str:
    """sweep.csv: one row per combination.

    Columns: each parameter, ``n``, ``pass_rate``; per budget ``<id>.mean``, ``.low``,
    ``.high``, ``.limit``, ``.pass_rate``; per stream figure ``<stream>.<figure>.mean``,
    ``.low``, ``.high``. Empty cells for a figure a combination does not have.
    """
    columns: dict[str, None] = {p["path"]: None for p in document["params"]}
    columns.update({"n": None, "pass_rate": None})
    rows = []
    for c in document["combinations"]:
        row: dict[str, Any] = {**{k: _show(v) for k, v in c["params"].items()}}
        row.update({"n": c["n"], "pass_rate": c["pass_rate"]})
        for b in c["budgets"]:
            v = b["value"]
            row.update(
                {
                    f"{b['id']}.mean": v["mean"],
                    f"{b['id']}.low": v["low"],
                    f"{b['id']}.high": v["high"],
                    f"{b['id']}.limit": b["limit"],
                    f"{b['id']}.pass_rate": b["pass_rate"],
                }
            )
        for stream, figures in c["streams"].items():
            for figure, v in figures.items():
                for part in ("mean", "low", "high"):
                    row[f"{stream}.{figure}.{part}"] = v[part]
        columns.update(dict.fromkeys(row))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _margin(budget: dict) -> float:
    """value / limit (limit / value for a minimum); > 1 fails."""
    mean, limit = budget["value"]["mean"], budget["limit"]
    if mean is None:
        return math.inf
    if budget["lower_bound"]:
        return limit / mean if mean > 0 else math.inf
    return mean / limit if limit > 0 else (math.inf if mean > 0 else 0.0)


def _budget_columns(document: dict) -> list[str]:
    """The budgets the table shows: those closest to failing, in scenario order."""
    worst: dict[str, float] = {}
    for c in document["combinations"]:
        for b in c["budgets"]:
            worst[b["id"]] = max(worst.get(b["id"], -math.inf), _margin(b))
    chosen = sorted(worst, key=lambda k: -worst[k])[:MAX_TABLE_BUDGETS]
    return [k for k in worst if k in chosen]


def _mean_ci(value: dict, unit: str) -> str:
    mean, half = value["mean"], value["half_width"]
    if mean is None:
        return "-"
    scale, shown = (100.0, "%") if unit == "ratio" else (1.0, f" {unit}")
    text = f"{mean * scale:.3g}"
    if half is not None:
        text += f" ± {half * scale:.2g}"
    return text + shown


def render_table(document: dict) -> str:
    """The terminal view: one row per combination, unsafe combinations marked.

    Columns: the parameters, runs, pass rate, the mean ± 95 % half-width of the budgets
    closest to failing (at most :data:`MAX_TABLE_BUDGETS`), and ``UNSAFE`` where a run failed.
    """
    from .summary import _table

    names = [p["path"] for p in document["params"]]
    budget_ids = _budget_columns(document)
    header = [*names, "runs", "pass"]
    limits: dict[str, str] = {}
    for c in document["combinations"]:
        for b in c["budgets"]:
            if b["id"] in budget_ids and b["id"] not in limits:
                bound = ">=" if b["lower_bound"] else "<="
                limit = _mean_ci({"mean": b["limit"], "half_width": None}, b["unit"])
                limits[b["id"]] = f"{b['id']} {bound} {limit}"
    header += [limits.get(k, k) for k in budget_ids] + ["verdict"]
    rows = []
    for c in document["combinations"]:
        by_id = {b["id"]: b for b in c["budgets"]}
        cells = [_show(c["params"][k]) for k in names]
        cells += [str(c["n"]), f"{c['pass_rate']:.0%}"]
        for k in budget_ids:
            b = by_id.get(k)
            cells.append("-" if b is None else _mean_ci(b["value"], b["unit"]))
        cells.append("safe" if c["pass"] else "UNSAFE")
        rows.append(cells)
    lines = ["", *_table(header, rows), ""]
    n_budgets = len({b["id"] for c in document["combinations"] for b in c["budgets"]})
    if n_budgets > len(budget_ids):
        lines.append(
            f"({len(budget_ids)} of {n_budgets} budgets shown, those closest to their limits; "
            "all are in sweep.csv)"
        )
    lines += _boundaries(document)
    unsafe = sum(not c["pass"] for c in document["combinations"])
    total = len(document["combinations"])
    verdict = (
        "PASS: every run of every combination passed"
        if not unsafe
        else (f"FAIL: {unsafe} of {total} combinations unsafe (a run failed a budget)")
    )
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


def _boundaries(document: dict) -> list[str]:
    """Where the service stops being safe along the first parameter, per other values."""
    if not document["params"]:
        return []
    first = document["params"][0]["path"]
    groups: dict[tuple, list[dict]] = {}
    for c in document["combinations"]:
        rest = tuple((k, _show(v)) for k, v in c["params"].items() if k != first)
        groups.setdefault(rest, []).append(c)
    lines = []
    for rest, combos in groups.items():
        where = f" (with {', '.join(f'{k}={v}' for k, v in rest)})" if rest else ""
        bad = [c for c in combos if not c["pass"]]
        if not bad:
            lines.append(f"safe at every {first} tried{where}")
            continue
        at = bad[0]
        lines.append(
            f"unsafe from {first}={_show(at['params'][first])}{where}: "
            f"pass rate {at['pass_rate']:.0%}"
        )
    return lines


def _numeric(values: Sequence[Any]) -> tuple[list[float], str] | None:
    """Numbers and their common unit when every value is a number with one unit, else None."""
    out, units = [], set()
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            out.append(float(v))
            continue
        match = _QUANTITY.match(str(v))
        if not match:
            return None
        out.append(float(match.group(1)))
        units.add(match.group(2))
    if len(units) > 1:
        return None
    return out, units.pop() if units else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "budget"


def write_figures(document: dict, out_dir: Path) -> list[Path]:
    """Draw ``OUT/<budget id>.png`` for every budget; return the paths written."""
    from .plots import save

    ids = list({b["id"]: None for c in document["combinations"] for b in c["budgets"]})
    written = []
    for bid in ids:
        fig = budget_figure(document, bid)
        if fig is not None:
            written.append(save(fig, out_dir / f"{_slug(bid)}.png"))
    return written


def budget_figure(document: dict, budget_id: str) -> Any:
    """One budget's metric against the first parameter, mean and 95 % CI band.

    One line per value of the other parameters; the limit as a horizontal line and the
    failing side hatched. A numeric parameter (every value a number with one unit) gets a
    linear axis, or a log axis when its values span more than 30x; any other is categorical.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no combination has the budget.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter

    from .plots_style import _figure, _styled, series_style

    first = document["params"][0]["path"]
    points = []
    for c in document["combinations"]:
        b = next((b for b in c["budgets"] if b["id"] == budget_id), None)
        if b is not None:
            points.append((c, b))
    if not points:
        return None
    numeric = _numeric([p["values"] for p in document["params"]][0])
    values = list(document["params"][0]["values"])
    unit = points[0][1]["unit"]
    scale, shown = (100.0, "%") if unit == "ratio" else (1.0, unit)
    lower_bound = points[0][1]["lower_bound"]

    def x_of(value: Any) -> float:
        if numeric is not None:
            return numeric[0][values.index(value)]
        return float(values.index(value))

    groups: dict[tuple, list[tuple[float, dict, dict]]] = {}
    for c, b in points:
        rest = tuple((k, _show(v)) for k, v in c["params"].items() if k != first)
        groups.setdefault(rest, []).append((x_of(c["params"][first]), c, b))
    with _styled():
        fig = _figure()
        ax = fig.add_subplot()
        for i, (rest, items) in enumerate(groups.items()):
            items.sort(key=lambda item: item[0])
            x = [item[0] for item in items]
            mean = [_scaled(item[2]["value"]["mean"], scale) for item in items]
            low = [_scaled(item[2]["value"]["low"], scale) for item in items]
            high = [_scaled(item[2]["value"]["high"], scale) for item in items]
            style = series_style(i)
            label = ", ".join(f"{k}={v}" for k, v in rest) or "mean"
            ax.plot(x, mean, label=label, zorder=3, **style)
            if all(not math.isnan(v) for v in low + high):
                ax.fill_between(x, low, high, color=style["color"], alpha=0.18, linewidth=0)
        limits = {b["limit"] for _, b in points}
        handles, labels = ax.get_legend_handles_labels()
        if len(limits) == 1:
            limit = limits.pop() * scale
            bottom, top = ax.get_ylim()
            bottom, top = min(bottom, limit), max(top, limit)
            pad = 0.08 * (top - bottom or abs(limit) or 1.0)
            bottom, top = bottom - pad, top + pad
            limit_line = ax.axhline(limit, color="#666666", linewidth=2.2, zorder=2)
            fail = (bottom, limit) if lower_bound else (limit, top)
            ax.axhspan(
                *fail, facecolor="#f4f4f4", edgecolor="#b0b0b0", hatch="//", linewidth=0, zorder=0
            )
            ax.set_ylim(bottom, top)
            bound = "≥" if lower_bound else "≤"
            handles += [
                limit_line,
                Patch(facecolor="#f4f4f4", edgecolor="#b0b0b0", hatch="//", label="fails"),
            ]
            labels += [f"limit {bound} {limit:g} {shown}", "fails the budget"]
        else:
            for xi, _c, b in (item for items in groups.values() for item in items):
                ax.plot([xi], [b["limit"] * scale], marker="_", markersize=14, color="#666666")
        if numeric is not None:
            xs = [x for x in numeric[0] if x > 0]
            if len(xs) == len(numeric[0]) and max(xs) / min(xs) > 30.0:
                ax.set_xscale("log")
            ticks = sorted(set(numeric[0]))
            if len(ticks) <= 12:  # mark the values tried
                ax.set_xticks(ticks, [f"{t:.4g}" for t in ticks])
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"{first} ({numeric[1]})" if numeric[1] else first)
        else:
            ax.set_xticks(range(len(values)), [_show(v) for v in values])
            ax.set_xlabel(first)
        ax.set_ylabel(f"{budget_id} ({shown})")
        n = sorted({c["n"] for c, _ in points})
        runs = "/".join(map(str, n))
        ax.set_title(f"{budget_id}: mean and 95 % CI over {runs} runs", loc="left")
        ax.legend(handles, labels, loc="best")
    return fig


def _scaled(value: float | None, scale: float) -> float:
    return math.nan if value is None else value * scale
