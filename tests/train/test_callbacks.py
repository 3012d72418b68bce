"""Trainer.fit and its callbacks: evaluations inside training change nothing, the clock
leaves them out, a resumed run still equals the uninterrupted one, callbacks can stop."""
import time

import pytest
import torch

from gancore.train.callbacks import AtTrainingSeconds, TimeBudget
from gancore.train.checkpoint import V2_FORMAT
from tests.train.test_trainer import assert_same_run, digits, make_trainer  # noqa: F401 (digits: a fixture)


def nosy_evaluation(trainer):
    """An evaluation that touches everything training depends on: torch's global RNG, the
    trainer's noise and augmentation generators, and the networks' train/eval mode."""
    torch.randn(100)
    trainer._noise(5), trainer._for_d(torch.zeros(2, 1, 28, 28))
    trainer.G.eval(), trainer.D.eval()
    fakes = trainer.generate(8, seed=99)  # its own generator: the same noise at every call
    return {"fake_mean": fakes.mean().item(), "fake_std": fakes.std().item()}


@pytest.fixture(scope="module")
def plain_run(digits):
    # wgan_gp draws its interpolation weights from torch's global RNG; the shift from augment_rng
    run = make_trainer(digits, "wgan_gp", augment_shift=2)
    run.fit(7)
    return run


def test_evaluating_inside_training_changes_nothing(digits, plain_run):
    evaluated = make_trainer(digits, "wgan_gp", augment_shift=2)
    evaluated.fit(7, every=2, callbacks=[nosy_evaluation])
    assert_same_run(plain_run, evaluated)
    evals = evaluated.evals
    assert list(evals.index) == [0, 2, 4, 6, 7]  # the untrained model, every 2nd step, the last
    assert list(evals.columns) == ["seconds", "fake_mean", "fake_std", "eval_seconds"]
    assert evals.loc[0, "seconds"] == 0.0
    assert evals.loc[[2, 4, 6, 7], "seconds"].tolist() == evaluated.history.loc[[2, 4, 6, 7], "seconds"].tolist()
    assert (evals["eval_seconds"] > 0).all() and evals["fake_std"].nunique() == 5  # G changed between them


def test_a_resumed_fit_with_callbacks_equals_the_uninterrupted_one(digits, plain_run, tmp_path):
    whole = make_trainer(digits, "wgan_gp", augment_shift=2)
    whole.fit(7, every=2, callbacks=[nosy_evaluation])
    first = make_trainer(digits, "wgan_gp", augment_shift=2, checkpoint_path=tmp_path / "ckpt.pt")
    first.fit(3, every=2, callbacks=[nosy_evaluation])
    torch.manual_seed(123)  # the checkpoint restores the global RNG
    resumed = make_trainer(digits, "wgan_gp", augment_shift=2).load_checkpoint(tmp_path / "ckpt.pt")
    resumed.fit(4, every=2, callbacks=[nosy_evaluation])
    assert_same_run(whole, resumed)
    assert_same_run(plain_run, resumed)
    assert list(resumed.evals.index) == [0, 2, 3, 4, 6, 7]  # the first fit also evaluated its last step
    cols = ["fake_mean", "fake_std"]
    assert resumed.evals.loc[[0, 2, 4, 6, 7], cols].equals(whole.evals[cols])


def test_checkpoints_from_before_fit_load_with_no_evaluations(digits, tmp_path):
    path = make_trainer(digits).save_checkpoint(tmp_path / "ckpt.pt")
    state = torch.load(path, weights_only=True)
    del state["eval_records"], state["sha256"]  # as the format before checksums wrote it
    state["format"] = V2_FORMAT
    torch.save(state, tmp_path / "old.pt")
    t = make_trainer(digits)
    t.eval_records.append({"step": 0, "x": 1.0})
    assert t.load_checkpoint(tmp_path / "old.pt").evals.empty


class FakeClock:
    """Stands in for time.perf_counter / time.process_time: moves only when told."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_training_clocks_leave_evaluations_out(digits, monkeypatch):
    wall, cpu = FakeClock(), FakeClock()
    monkeypatch.setattr(time, "perf_counter", wall)
    monkeypatch.setattr(time, "process_time", cpu)
    t = make_trainer(digits, sample_every=0)
    real_step = t._train_step

    def step_taking_1s():  # 1 s of wall time and 2 CPU seconds (two threads) per step
        wall.now, cpu.now = wall.now + 1.0, cpu.now + 2.0
        return real_step()

    def evaluation_taking_100s(trainer):
        wall.now, cpu.now = wall.now + 100.0, cpu.now + 200.0
        return {"done": 1}
    t._train_step = step_taking_1s
    t.fit(4, every=2, callbacks=[evaluation_taking_100s])
    t.fit(2, every=2, callbacks=[evaluation_taking_100s])  # the clocks carry on across calls
    assert t.history["seconds"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert t.history["cpu_seconds"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert t.evals["seconds"].to_dict() == {0: 0.0, 2: 2.0, 4: 4.0, 6: 6.0}
    assert t.evals["eval_seconds"].tolist() == [100.0] * 4
    assert t.train_seconds == 6.0


def test_callbacks_stop_training_early(digits, tmp_path):
    def stop_at_3(trainer):
        if trainer.step == 3:
            trainer.request_stop("enough")
        return {"step_seen": trainer.step}
    t = make_trainer(digits, checkpoint_path=tmp_path / "ckpt.pt")
    t.fit(10, every=1, callbacks=[stop_at_3])
    assert t.step == 3 and t.stop_reason == "enough" and list(t.evals.index) == [0, 1, 2, 3]
    assert (tmp_path / "ckpt.pt").exists()
    t.fit(2)  # a new fit starts afresh
    assert t.step == 5 and t.stop_reason is None

    budget = make_trainer(digits)
    budget.fit(10, every=1, callbacks=[TimeBudget(1e-9)])
    assert budget.step == 1 and "time budget of 1e-09 s" in budget.stop_reason
    assert budget.evals.empty  # a callback that returns None writes no row


def test_evaluations_at_training_seconds(digits):
    seen = []
    at = AtTrainingSeconds([2e-9, 1e-9, 1e9], lambda trainer: seen.append(trainer.step) or {"n": len(seen)})
    t = make_trainer(digits)
    t.fit(3, every=1, callbacks=[at])
    assert seen == [1] and t.evals["n"].to_dict() == {1: 1}  # both small marks pass at step 1: one evaluation
    assert at.pending == [1e9]


def test_fit_refuses_bad_arguments(digits):
    t = make_trainer(digits)
    for kw in ({"steps": -1}, {"steps": 2.5}, {"steps": 1, "every": -1}, {"steps": 1, "every": True}):
        with pytest.raises(ValueError, match="must be a non-negative int"):
            t.fit(**kw)
    with pytest.raises(TypeError, match=r"write callbacks=\[fn\]"):
        t.fit(1, callbacks=nosy_evaluation)
    with pytest.raises(TypeError, match=r"callbacks\[1\] is a int"):
        t.fit(1, callbacks=[nosy_evaluation, 3])
    with pytest.raises(TypeError, match="returned a list"):
        t.fit(1, callbacks=[lambda trainer: [1.0]])
    with pytest.raises(ValueError, match=r"returned \['seconds'\]"):
        t.fit(1, callbacks=[lambda trainer: {"seconds": 1.0}])
    with pytest.raises(ValueError, match=r"returned \['fd'\]"):
        t.fit(1, callbacks=[lambda trainer: {"fd": 1.0}, lambda trainer: {"fd": 2.0}])
    for bad in (0, -1.0, float("nan"), float("inf"), "60"):
        with pytest.raises(ValueError, match="finite number of seconds > 0"):
            TimeBudget(bad)
    assert t.step == 0 and t.evals.empty  # every refusal came before a step or an evaluation row
