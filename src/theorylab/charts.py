"""One look for every chart in the book: theory as lines, experiment as points with spread over seeds.

Call :func:`enable` once per chapter; build charts with :func:`theory_vs_experiment` (or
:func:`loglog`). Data goes in tidy: ``x``, ``y``, optional ``series``, and ``seed`` for experiments.
The experiment is aggregated to mean and standard deviation over seeds before it is embedded.

Charts are made at a fixed size (so they compose: layers, panels side by side or stacked) and fit
their column in the book: its page script (``book/assets/js/theorylab-charts.js``) gives a single
chart the column's width, stacks side-by-side panels and moves legends under the plot on narrow
screens. Tooltips show rounded numbers.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

THEORY = "#1f4e79"  # deep blue: what the theorem says
EXPERIMENT = "#d1495b"  # red: what the run measured
PALETTE = ["#1f4e79", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#9c6644"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
WIDTH, HEIGHT = 440, 280  # the plot of a chart without a width of its own (e.g. a panel); height of every chart
TIP = ".4~g"  # numbers in tooltips: 4 significant digits, no trailing zeros


def theme() -> dict:
    """The Vega-Lite config of the book's theme."""
    return {
        "config": {
            "view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT, "stroke": None},
            "font": FONT,
            "title": {"fontSize": 15, "fontWeight": 600, "anchor": "start", "subtitleFontSize": 12,
                      "subtitleColor": "#555"},
            "axis": {"labelFontSize": 12, "titleFontSize": 13, "titleFontWeight": 500, "grid": True,
                     "gridColor": "#e8e8e8", "domainColor": "#888", "tickColor": "#888"},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "right"},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2.5},
            "point": {"size": 60, "filled": True},
        }
    }


@alt.theme.register("theorylab", enable=False)
def _registered() -> alt.theme.ThemeConfig:
    return alt.theme.ThemeConfig(theme())


def enable() -> None:
    """Use the book's theme for every chart made after this call."""
    alt.theme.enable("theorylab")


def aggregate(experiment: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count of ``y`` over seeds, per ``x`` (and ``series``)."""
    missing = {"x", "y"} - set(experiment.columns)
    if missing:
        raise ValueError(f"experiment must have columns x, y (and seed, series); missing {sorted(missing)}")
    keys = ["series", "x"] if "series" in experiment.columns else ["x"]
    out = (experiment.groupby(keys, sort=True)["y"].agg(mean="mean", sd="std", n="count").reset_index())
    out["sd"] = out["sd"].fillna(0.0)
    out["lo"], out["hi"] = out["mean"] - out["sd"], out["mean"] + out["sd"]
    return out


def theory_vs_experiment(theory: pd.DataFrame | None = None, experiment: pd.DataFrame | None = None, *,
                         x_title: str, y_title: str, log_x: bool = False, log_y: bool = False,
                         title: str | None = None, series_title: str = "", series_order: list | None = None,
                         x_domain: tuple | None = None, y_domain: tuple | None = None,
                         width: int = WIDTH, height: int = HEIGHT) -> alt.LayerChart:
    """Theory as lines and experiment as mean +- sd points, on shared axes.

    Args:
        theory: columns ``x``, ``y`` and optionally ``series``; drawn as lines.
        experiment: columns ``x``, ``y``, ``seed`` and optionally ``series``; drawn as points with
            error bars of one standard deviation over seeds.
        x_title, y_title: axis titles, in the notation of the book.
        log_x, log_y: logarithmic axes.
        title: the chart's title; a subtitle always says what lines and points are.
        series_title: the legend's title when there is a ``series`` column.
        series_order: the series in legend (and colour) order; default: sorted.
        x_domain, y_domain: fixed axis ranges ``(low, high)``; default: fitted to the data.
        width, height: the plot's size in pixels (in the book, a single chart takes its column's width).
    """
    if theory is None and experiment is None:
        raise ValueError("theory and experiment cannot both be None")
    has_series = any(df is not None and "series" in df.columns for df in (theory, experiment))
    x_scale = _scale(log_x, x_domain)
    y_scale = _scale(log_y, y_domain)
    x_enc = alt.X("x:Q", title=x_title, scale=x_scale, axis=_axis(log_x))
    y_axis = _axis(log_y)

    def color(default: str):
        if has_series:
            scale = alt.Scale(domain=list(series_order)) if series_order is not None else alt.Undefined
            return alt.Color("series:N", title=series_title or None, scale=scale)
        return alt.value(default)

    layers, subtitle = [], []
    if theory is not None:
        _require(theory, "theory", {"x", "y"})
        tips = [alt.Tooltip("x:Q", title=x_title, format=TIP), alt.Tooltip("y:Q", title=f"{y_title} (theory)", format=TIP)]
        if has_series and "series" in theory.columns:
            tips.insert(0, alt.Tooltip("series:N", title=series_title or "series"))
        layers.append(alt.Chart(theory).mark_line().encode(
            x=x_enc, y=alt.Y("y:Q", title=y_title, scale=y_scale, axis=y_axis), color=color(THEORY), tooltip=tips))
        subtitle.append("lines: theory")
    if experiment is not None:
        agg = aggregate(experiment)
        if log_y:  # keep the lower whisker on a log axis: mirror the upper one geometrically
            bad = agg["lo"] <= 0
            agg.loc[bad, "lo"] = agg.loc[bad, "mean"] ** 2 / agg.loc[bad, "hi"]
        tips = [alt.Tooltip("x:Q", title=x_title, format=TIP), alt.Tooltip("mean:Q", title=f"{y_title} (mean)", format=TIP),
                alt.Tooltip("sd:Q", title="sd over seeds", format=".2g"), alt.Tooltip("n:Q", title="seeds", format="d")]
        if has_series and "series" in agg.columns:
            tips.insert(0, alt.Tooltip("series:N", title=series_title or "series"))
        base = alt.Chart(agg).encode(x=x_enc, color=color(EXPERIMENT))
        layers.append(base.mark_rule(strokeWidth=1.5).encode(y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q"))
        layers.append(base.mark_point(filled=True, opacity=0.9).encode(
            y=alt.Y("mean:Q", title=y_title, scale=y_scale, axis=y_axis), tooltip=tips))
        n_seeds = int(agg["n"].max()) if len(agg) else 0
        subtitle.append(f"points: experiment, mean \u00b1 sd over {n_seeds} seed{'s' * (n_seeds != 1)}")
    chart = alt.layer(*layers).properties(width=width, height=height)
    legend = " \u00b7 ".join(subtitle)
    if title:
        return chart.properties(title=alt.TitleParams(title, subtitle=legend))
    return chart.properties(title=alt.TitleParams(legend, fontSize=12, fontWeight="normal", color="#555"))


# On a log axis, label the powers of ten only ("1e6" beyond 1e5 or below 1e-3), so labels never collide.
_DECADE = "log(datum.value) / LN10"
LOG_LABELS = (f"abs({_DECADE} - round({_DECADE})) > 1e-6 ? '' : "
              f"(datum.value >= 1e-3 && datum.value <= 1e5 ? format(datum.value, ',~g') : '1e' + round({_DECADE}))")


def _axis(log: bool):
    return alt.Axis(labelExpr=LOG_LABELS) if log else alt.Undefined


def _scale(log: bool, domain: tuple | None) -> alt.Scale:
    kwargs = {"type": "log"} if log else {"zero": False}
    if domain is not None:
        kwargs.update(domain=list(domain), clamp=True)
    return alt.Scale(**kwargs)


def loglog(theory: pd.DataFrame | None = None, experiment: pd.DataFrame | None = None, **kwargs) -> alt.LayerChart:
    """:func:`theory_vs_experiment` with both axes logarithmic."""
    return theory_vs_experiment(theory, experiment, log_x=True, log_y=True, **kwargs)


def slope_label(x: float, y: float, slope: float, text: str | None = None) -> alt.Chart:
    """A text mark at (x, y) reading "slope -0.52" (or ``text``), to annotate a log-log line."""
    label = text if text is not None else f"slope {slope:+.2f}"
    data = pd.DataFrame({"x": [x], "y": [y], "label": [label]})
    return alt.Chart(data).mark_text(align="left", dx=6, dy=-6, fontSize=12, color="#333").encode(
        x="x:Q", y="y:Q", text="label:N")


def _require(df: pd.DataFrame, name: str, columns: set[str]) -> None:
    missing = columns - set(df.columns)
    if missing:
        raise ValueError(f"{name} must have columns {sorted(columns)}; missing {sorted(missing)}")
    if not np.isfinite(df[list(columns)].to_numpy(dtype=float)).all():
        raise ValueError(f"{name} has non-finite x or y values")
