"""gancore.workbook.params and nb.setup: one definition of a notebook's parameters."""
import ast
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from gancore.experiments import NOTEBOOKS, params_class
from gancore.experiments.style_transfer import STYLE_DEFAULTS, StyleTransfer
from gancore.experiments.toy import Toy2D
from gancore.workbook import notebook as nb
from gancore.workbook.params import NotebookParams, param


@dataclass
class Demo(NotebookParams):
    notebook: ClassVar[str] = "99_demo"
    steps: int = param(100, "generator steps", nb.positive_int, smoke=5)
    lr: float = param(1e-3, "learning rate", nb.number(0, 1, open_min=True))
    loss: str = param("hinge", "a loss", nb.one_of("hinge", "minimax"), smoke="minimax")
    name: str = param("x", "a free text")
    out_dir: str = param("runs/latest/99_demo", "where results go")


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(nb.ParameterError) as err:
        Demo(steps=0, lr=2.0, loss="foo", seed=-1, smoke="yes", name=3)
    msg = str(err.value)
    assert msg.startswith("bad notebook parameters: ")
    for part in ("steps must be >= 1, got 0", "lr must be in (0, 1], got 2.0", "loss must be one of 'hinge', "
                 "'minimax'; got 'foo'", "seed must be >= 0, got -1", "smoke must be True or False",
                 "name must be a string, got 3"):
        assert part in msg
    assert msg.endswith("run again.")


def test_types_come_from_the_annotations():
    with pytest.raises(nb.ParameterError, match="cpu_threads must be an int, got 1.5"):
        Demo(cpu_threads=1.5)
    with pytest.raises(nb.ParameterError, match="steps must be an int, got True"):
        Demo(steps=True)
    assert Demo(lr=1).lr == 1  # an int is a fine float


def test_smoked_caps_numbers_and_replaces_the_rest():
    small = Demo(steps=3, loss="hinge").smoked()
    assert (small.steps, small.loss, small.smoke, small.lr) == (3, "minimax", True, 1e-3)
    assert Demo().smoked().steps == 5


def test_changed_lists_only_what_differs():
    assert Demo().changed() == {}
    assert Demo(steps=7, smoke=True, out_dir="elsewhere").changed() == {"steps": (100, 7)}


def test_parameters_cell_round_trips_to_the_defaults():
    source = Demo.parameters_cell()
    tree = ast.parse(source)
    values = {node.target.id: ast.literal_eval(node.value) for node in tree.body}
    types = {node.target.id: node.annotation.id for node in tree.body}
    assert values == Demo.defaults()
    assert types["lr"] == "float" and types["loss"] == "str" and types["smoke"] == "bool"
    names = list(values)
    assert names[:4] == ["steps", "lr", "loss", "name"]  # the notebook's own first
    assert names[-4:] == ["cpu_threads", "seed", "smoke", "out_dir"]  # the shared ones last
    assert 'out_dir: str = "runs/latest/99_demo"  # where results go' in source


def test_setup_checks_smokes_seeds_and_fills_the_namespace(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_SMOKE", "1")
    monkeypatch.setenv("GANCORE_OUT_DIR", str(tmp_path / "out"))
    namespace = {"steps": 50, "seed": 3, "smoke": False, "unrelated": 1}
    cfg = nb.setup(Demo, namespace)
    assert cfg.smoke and cfg.steps == 5 and namespace["steps"] == 5 and namespace["loss"] == "minimax"
    assert namespace["out"] == tmp_path / "out" and (tmp_path / "out").is_dir()
    assert namespace["device"].type in ("cpu", "cuda") and namespace["unrelated"] == 1
    first = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(first, torch.rand(3)), "setup seeds torch with cfg.seed"


def test_setup_stops_before_touching_anything_on_a_bad_value(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_OUT_DIR", str(tmp_path / "never"))
    with pytest.raises(nb.ParameterError, match="seed must be >= 0"):
        nb.setup(Demo, {"seed": -1})
    assert not (tmp_path / "never").exists()


def test_cross_checks_of_the_notebooks():
    with pytest.raises(nb.ParameterError, match="batch_size 30 must be a multiple of pack=4"):
        Toy2D(batch_size=30)
    assert Toy2D(pack=5, batch_size=250).smoked().batch_size == 30  # a multiple of pack
    with pytest.raises(nb.ParameterError, match="unknown style attribute 'colour'"):
        StyleTransfer(demo_style="colour=red")
    for bad in ("0.1,-1", "nan", "1,inf"):  # checked at setup, not after every training
        with pytest.raises(nb.ParameterError, match="sweep_adv weights must be finite numbers >= 0"):
            StyleTransfer(sweep_adv=bad)
    with pytest.raises(nb.ParameterError, match="sweep_adv must be numbers"):
        StyleTransfer(sweep_adv="0.1,lots")
    assert StyleTransfer(sweep_adv="0.1, 1,3").sweep_weights() == [0.1, 1.0, 3.0]
    assert StyleTransfer(sweep_adv="0.1,1").smoked().sweep_adv == "0.1"


def test_every_notebook_has_a_params_class_with_its_own_out_dir():
    for stem in NOTEBOOKS:
        cls = params_class(stem)
        assert cls.notebook == stem and cls().out_dir == f"runs/latest/{stem}"
    with pytest.raises(KeyError, match="no parameters class for notebook '99_x'"):
        params_class("99_x")


def test_style_defaults_are_read_from_the_notebook_class():
    assert STYLE_DEFAULTS == {k: v for k, v in StyleTransfer.defaults().items() if k in STYLE_DEFAULTS}
    assert STYLE_DEFAULTS["steps"] == 500 and STYLE_DEFAULTS["adv_weight"] == 0.3
