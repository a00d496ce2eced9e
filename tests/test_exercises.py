"""theorylab.exercises: self-checks that accept right answers and never store them in the clear."""

import json

import pytest

from theorylab import exercises


@pytest.fixture
def registry(tmp_path):
    path = tmp_path / "answers.json"
    exercises.register("ex-t-num", [0.1235], kind="number", digits=3, path=path)
    exercises.register("ex-t-text", ["GCN", "graph convolutional network"], kind="text", path=path)
    return path


def test_numbers_pass_within_one_unit_of_the_last_digit(registry):
    reg = exercises.load(registry)
    for good in (0.1235, 0.12351, 0.1234, 0.1236, 0.124):
        assert exercises.matches("ex-t-num", good, registry=reg), good
    for bad in (0.1220, 0.13, -0.1235, 1.235, float("nan"), "abc"):
        assert not exercises.matches("ex-t-num", bad, registry=reg), bad


def test_text_is_normalised_and_several_spellings_pass(registry, capsys):
    reg = exercises.load(registry)
    assert exercises.check("ex-t-text", "  gcn. ", registry=reg)
    assert exercises.check("ex-t-text", "Graph Convolutional Network", registry=reg)
    assert not exercises.check("ex-t-text", "gin", registry=reg)
    out = capsys.readouterr().out
    assert "correct" in out and "not yet" in out


def test_the_answer_is_not_stored(registry):
    text = registry.read_text()
    assert "0.1235" not in text and "1.24e" not in text and "gcn" not in text.lower()
    entry = json.loads(text)["ex-t-num"]
    assert set(entry) == {"kind", "salt", "hashes", "digits"}


def test_unknown_exercise_and_bad_ids():
    with pytest.raises(KeyError, match="no self-check is registered for 'ex-nope'"):
        exercises.check("ex-nope", 1, registry={})
    with pytest.raises(ValueError, match="lower-case"):
        exercises.register("Ex 1", [1], kind="number")


def test_the_package_registry_is_valid():
    for name, entry in exercises.load().items():
        assert entry["kind"] in ("number", "text") and entry["hashes"] and len(entry["salt"]) == 32, name
