"""gancore: the package behind the GAN workbook notebooks.

nets/         generators, discriminators, classifiers and feature networks
losses.py     adversarial and image losses as pure functions, each with its formula
data/         real images in memory (MNIST, Fashion-MNIST, digit and photo styles), toy mixtures
train/        the GAN trainer with callbacks, supervised fit, the textbook loop of notebook 03
metrics/      distribution and per-image metrics, and the cached networks that measure
experiments/  one module per notebook experiment: its config and the code it runs
workbook/     notebook conventions, parameter classes, HTML reports, widgets, plots
batch/        instructor batches: grid files, workers or Dask, live progress, results table
runtime.py    seed, device, CPU threads;  paths.py  where caches and results live
"""
import importlib as _importlib
import logging as _logging

# Imported on first use, so that tools which need no torch (python -m gancore.batch, its runner
# processes) start in a fraction of a second rather than after torch's import.
_LAZY = {"Trainer": "gancore.train.trainer", "TrainConfig": "gancore.train.trainer",
         "CheckpointError": "gancore.train.trainer", "NonFiniteLossError": "gancore.train.trainer",
         "set_seed": "gancore.runtime", "default_device": "gancore.runtime"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gancore' has no attribute {name!r}")


_log = _logging.getLogger("gancore")
if not _log.handlers:  # say which data source was used, also inside notebooks
    _handler = _logging.StreamHandler()
    _handler.setFormatter(_logging.Formatter("gancore: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_logging.INFO)
    _log.propagate = False

__all__ = ["Trainer", "TrainConfig", "CheckpointError", "NonFiniteLossError", "set_seed", "default_device"]
__version__ = "0.1.0"
