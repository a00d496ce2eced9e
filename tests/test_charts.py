"""theorylab.charts: one theme, theory lines and aggregated experiment points."""

import numpy as np
import pandas as pd
import pytest

from theorylab import charts


def test_experiment_is_aggregated_over_seeds():
    exp = pd.DataFrame({"x": [1, 1, 1, 2, 2, 2], "y": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0], "seed": [0, 1, 2] * 2})
    agg = charts.aggregate(exp)
    assert agg["mean"].tolist() == [2.0, 5.0] and agg["sd"].tolist() == [1.0, 0.0] and agg["n"].tolist() == [3, 3]


def test_chart_layers_and_embedded_rows():
    charts.enable()
    theory = pd.DataFrame({"x": np.logspace(0, 3, 50), "y": np.logspace(0, 3, 50) ** -0.5})
    exp = pd.DataFrame({"x": np.repeat([1.0, 10.0, 100.0], 3), "y": np.linspace(0.1, 1, 9), "seed": [0, 1, 2] * 3})
    spec = charts.loglog(theory, exp, x_title="T", y_title="E").to_dict()
    assert len(spec["layer"]) == 3  # line, error bars, points
    assert sum(len(v) for v in spec["datasets"].values()) == 50 + 3  # experiment embedded aggregated
    assert "theory" in str(spec["title"]) and "3 seeds" in str(spec["title"])
    assert spec["config"]["font"] == charts.FONT


def test_series_are_coloured_and_bad_input_rejected():
    th = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1, 2, 2, 3], "series": ["a", "a", "b", "b"]})
    spec = charts.theory_vs_experiment(th, None, x_title="x", y_title="y", series_title="depth").to_dict()
    assert spec["layer"][0]["encoding"]["color"]["field"] == "series"
    with pytest.raises(ValueError, match="both be None"):
        charts.theory_vs_experiment(None, None, x_title="x", y_title="y")
    with pytest.raises(ValueError, match="missing"):
        charts.theory_vs_experiment(pd.DataFrame({"x": [1]}), None, x_title="x", y_title="y")


def test_series_order_and_domains():
    th = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1, 2, 2, 3], "series": ["b", "b", "a", "a"]})
    spec = charts.theory_vs_experiment(th, None, x_title="x", y_title="y", series_order=["b", "a"],
                                       y_domain=(0, 5)).to_dict()
    enc = spec["layer"][0]["encoding"]
    assert enc["color"]["scale"]["domain"] == ["b", "a"] and enc["y"]["scale"]["domain"] == [0, 5]


def test_charts_compose_and_round_tooltips():
    th = pd.DataFrame({"x": [1.0, 2.0], "y": [1 / 3, 2 / 3]})
    exp = pd.DataFrame({"x": [1.0, 1.0], "y": [0.3, 0.4], "seed": [0, 1]})
    spec = charts.theory_vs_experiment(th, exp, x_title="x", y_title="y").to_dict()
    assert spec["width"] == charts.WIDTH
    tips = [t for layer in spec["layer"] for t in layer.get("encoding", {}).get("tooltip", [])]
    assert tips and all(t.get("format") for t in tips if t["type"] == "quantitative")
    chart = charts.theory_vs_experiment(th, None, x_title="x", y_title="y", width=280)
    both = (chart | chart).to_dict()  # panels side by side (the book's page script stacks them when narrow)
    assert [p["width"] for p in both["hconcat"]] == [280, 280]
    assert "vconcat" in (chart & (chart + charts.slope_label(1.0, 0.5, -0.5))).to_dict()
