"""Checkpoints are data, never code, and a damaged one is refused: files that would run code
when unpickled are refused before they run, and a flipped byte fails the checksum."""
import pickle
import random
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from gancore import CheckpointError, Trainer
from gancore.train.checkpoint import checkpoint_checksum, load_models, read_checkpoint
from tests.train.test_trainer import digits, make_trainer  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


class WritesAFile:
    """Unpickling this creates the file ``marker``: what a malicious checkpoint could do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def malicious_files(digits, tmp_path):
    """A real checkpoint with a code-running object slipped in, saved by torch and as a bare pickle."""
    state = torch.load(make_trainer(digits).save_checkpoint(tmp_path / "good.pt"), weights_only=True)
    state["records"] = [WritesAFile(tmp_path / "pwned.txt")]
    torch.save(state, tmp_path / "evil_zip.pt")
    with open(tmp_path / "evil_pickle.pt", "wb") as fh:
        pickle.dump(state, fh)
    return [tmp_path / "evil_zip.pt", tmp_path / "evil_pickle.pt"]


def test_a_checkpoint_that_would_run_code_is_refused_before_it_runs(digits, tmp_path):
    marker = tmp_path / "pwned.txt"
    for path in malicious_files(digits, tmp_path):
        loads = (lambda: load_models(path), lambda: Trainer.load(path, digits, device="cpu", progress=False),
                 lambda: make_trainer(digits).load_checkpoint(path))
        for load in loads:
            with pytest.raises(CheckpointError, match="refused.*could run code.*Trainer.save_checkpoint"):
                load()
            assert not marker.exists(), f"loading {path.name} ran the code inside it"


def entry_data_spans(path: Path) -> dict[str, tuple[int, int]]:
    """{entry name: (offset, size)} of every stored entry's bytes in the zip file ``path``."""
    raw, spans = path.read_bytes(), {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
            spans[info.filename] = (info.header_offset + 30 + name_len + extra_len, info.compress_size)
    return spans


def flipped(path: Path, at: int, out: Path) -> Path:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x01
    out.write_bytes(bytes(raw))
    return out


def test_a_flipped_byte_in_any_tensor_is_refused_by_the_checksum(digits, tmp_path):
    t = make_trainer(digits)
    t.train(2)
    good = t.save_checkpoint(tmp_path / "good.pt")
    tensors = {k: v for k, v in entry_data_spans(good).items() if re.search(r"/data/\d+$", k) and v[1] > 0}
    assert len(tensors) > 20  # G, D, both optimisers, samples and RNG states
    for name, (offset, size) in tensors.items():
        bad = flipped(good, offset + size // 2, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match="fails its sha256 checksum.*Copy it again.*train again"):
            load_models(bad)
    assert load_models(good)[0] is not None  # the unflipped file still loads


def test_a_flipped_byte_anywhere_never_loads_changed_contents(digits, tmp_path):
    good = make_trainer(digits).save_checkpoint(tmp_path / "good.pt")
    saved = read_checkpoint(good)["sha256"]
    size = good.stat().st_size
    refused = 0
    for at in random.Random(0).sample(range(size), 150):
        try:
            state = read_checkpoint(flipped(good, at, tmp_path / "bad.pt"))
        except CheckpointError:
            refused += 1
            continue
        assert checkpoint_checksum(state) == saved, f"a flip at byte {at} of {size} loaded other contents"
    assert refused > 50  # most bytes matter; the rest are zip bookkeeping that loads nothing


def test_the_checkpoint_holds_plain_data_and_records_its_checksum(digits, tmp_path):
    t = make_trainer(digits)
    t.eval_records.append({"step": 0, "fd": np.float32(1.5), "n": np.int64(3), "curve": np.arange(3)})
    state = read_checkpoint(t.save_checkpoint(tmp_path / "ckpt.pt"))
    assert state["sha256"] == checkpoint_checksum(state)
    record = state["eval_records"][-1]
    assert type(record["fd"]) is float and record["fd"] == 1.5 and type(record["n"]) is int
    assert torch.equal(record["curve"], torch.arange(3))


def test_what_a_checkpoint_cannot_hold_is_named_when_saving(digits, tmp_path):
    t = make_trainer(digits)
    t.eval_records.append({"step": 0, "table": object()})
    with pytest.raises(TypeError, match=r"\['eval_records'\]\[0\]\['table'\] is a object.*plain data"):
        t.save_checkpoint(tmp_path / "ckpt.pt")
    assert not (tmp_path / "ckpt.pt").exists()


def test_no_checkpoint_load_in_gancore_can_unpickle_code():
    package = Path(__file__).resolve().parents[2] / "gancore"
    unsafe = [f"{p.relative_to(package.parent)}:{i}" for p in package.rglob("*.py")
              for i, line in enumerate(p.read_text().splitlines(), 1) if "weights_only=False" in line]
    assert unsafe == [], "load with weights_only=True"
