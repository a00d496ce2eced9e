"""theorylab.claims: recording never raises, check() lists every failure with its numbers."""

import json

import numpy as np
import pytest
import torch

from theorylab import claims


def test_kinds_pass_and_fail_at_their_boundaries():
    ledger = claims.Ledger("t")
    ledger.close("a", 1.05, 1.0, atol=0.05, why="w")
    assert ledger.claims[-1].passed
    ledger.close("b", 1.1, 1.0, rtol=0.1, why="w")
    assert ledger.claims[-1].passed
    ledger.close("c", 1.2, 1.0, rtol=0.1, atol=0.05, why="w")
    assert not ledger.claims[-1].passed
    ledger.at_least("d", 0.95, 0.95, why="w")
    assert ledger.claims[-1].passed
    ledger.at_least("e", 0.94, 0.95, why="w")
    assert not ledger.claims[-1].passed
    ledger.at_most("f", np.float32(0.02), 0.02, why="w")
    assert ledger.claims[-1].passed
    ledger.between("g", torch.tensor(0.5), 0.0, 1.0, why="w")
    assert ledger.claims[-1].passed
    ledger.between("h", 1.5, 0.0, 1.0, why="w")
    assert not ledger.claims[-1].passed
    assert [c.name for c in ledger.failed] == ["c", "e", "h"]


@pytest.mark.parametrize("measured", [float("nan"), "x", None])
def test_non_numbers_fail_without_raising(measured):
    ledger = claims.Ledger("t")
    ledger.at_least("x", measured, 0.0, why="w")
    claim = ledger.claims[-1]
    assert not claim.passed and "not a number" in claim.problem


def test_missing_reason_duplicates_and_negative_tolerances_fail():
    ledger = claims.Ledger("t")
    ledger.at_least("x", 1, 0)
    ledger.at_least("y", 1, 0, why="w")
    ledger.at_least("y", 1, 0, why="w")
    ledger.close("z", 1, 1, atol=-1, why="w")
    problems = [c.problem for c in ledger.claims]
    assert "no reason" in problems[0] and not problems[1]
    assert "already recorded" in problems[2] and "tolerances" in problems[3]


def test_check_raises_one_error_listing_every_failure():
    ledger = claims.Ledger("chapter")
    ledger.close("slope", -0.4, -0.5, atol=0.05, why="fit CI")
    ledger.at_least("acc", 0.9, 0.95, why="3 SD")
    ledger.at_most("ok", 0.0, 1.0, why="w")
    with pytest.raises(claims.ClaimsFailed) as err:
        ledger.check()
    text = str(err.value)
    assert "2 of 3 claims failed" in text
    assert "slope: measured -0.4, expected -0.5 ± 0.05 (fit CI)" in text
    assert "acc: measured 0.9, expected ≥ 0.95" in text and "ok" not in text.split("failed:")[1]


def test_check_passes_and_empty_ledger_fails():
    ledger = claims.Ledger("t")
    ledger.between("r", 1.0, 0.9, 1.1, why="w")
    ledger.check()
    with pytest.raises(claims.ClaimsFailed, match="no claims"):
        claims.Ledger("empty").check()


def test_records_are_json_and_show_the_target():
    ledger = claims.Ledger("t")
    ledger.at_most("inf", float("inf"), 1.0, why="w")
    ledger.close("c", 2.0, 2.0, rtol=0.05, why="w")
    rows = json.loads(json.dumps(ledger.records()))
    assert rows[0]["measured"] == "inf" and rows[0]["target"] == "≤ 1"
    assert rows[1]["target"] == "2 ± 5%"
    assert "1 of 2 claims hold" in ledger.to_html() and "FAIL inf" in ledger.to_text()


def test_show_turns_scalars_into_plain_numbers():
    ledger = claims.Ledger("t")
    ledger.show("a", np.float64(1.5))
    ledger.show("b", torch.tensor(3))
    ledger.show("c", "text")
    assert ledger.shown == {"a": 1.5, "b": 3, "c": "text"}
    assert type(ledger.shown["a"]) is float and type(ledger.shown["b"]) is int


def test_each_claim_says_what_kind_of_evidence_it_is():
    ledger = claims.Ledger("t")
    ledger.close("p", 1.0, 1.0, atol=0.1, why="w", kind="prediction")
    ledger.at_most("i", 0.0, 1e-9, why="w", kind="identity")
    ledger.at_least("c", 1.0, 0.0, why="w", kind="construction")
    ledger.at_least("u", 1.0, 0.0, why="w")
    ledger.at_least("bad", 1.0, 0.0, why="w", kind="evidence")
    assert [c.kind for c in ledger.claims] == ["prediction", "identity", "construction", "", "evidence"]
    assert not ledger.claims[-1].passed and "kind must be one of" in ledger.claims[-1].problem
    assert ledger.kind_counts() == {"prediction": 1, "identity": 1, "construction": 1, "unstated": 2}
    assert ledger.kind_counts_text().startswith("1 prediction, 1 identity, 1 by construction")
    assert "<th>kind</th>" in ledger.to_html()
    assert claims.count_kinds(ledger.records()) == ledger.kind_counts()


@pytest.mark.parametrize("record, expected", [
    (dict(op="close", measured=1.02, expected=1.0, atol=0.05, rtol=0.0), 0.03),
    (dict(op="close", measured=0.9, expected=1.0, atol=0.0, rtol=0.05), -0.05),
    (dict(op="at_least", measured=0.97, low=0.95), 0.02),
    (dict(op="at_most", measured=0.03, high=0.02), -0.01),
    (dict(op="between", measured=0.2, low=0.0, high=1.0), 0.2),
])
def test_slack_is_the_distance_inside_the_bound(record, expected):
    assert claims.slack(record) == pytest.approx(expected)
