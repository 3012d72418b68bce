"""gancore: the package behind the GAN workbook notebooks.

nets/         generators, discriminators, classifiers and feature networks
losses.py     adversarial and image losses as pure functions, each with its formula
data/         real images in memory (MNIST, Fashion-MNIST, digit and photo styles), toy mixtures
train/        the GAN trainer with callbacks, supervised fit, the textbook loop of notebook 03
metrics/      distribution and per-image metrics, and the cached networks that measure
experiments/  one module per notebook experiment: its config and the code it runs
workbook/     notebook conventions, the papermill batch runner, widgets, plots
runtime.py    seed, device, CPU threads;  paths.py  where caches and results live
"""
import logging as _logging

from gancore.runtime import default_device, set_seed
from gancore.train.trainer import (
    CheckpointError,
    NonFiniteLossError,
    TrainConfig,
    Trainer,
)

_log = _logging.getLogger("gancore")
if not _log.handlers:  # say which data source was used, also inside notebooks
    _handler = _logging.StreamHandler()
    _handler.setFormatter(_logging.Formatter("gancore: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_logging.INFO)
    _log.propagate = False

__all__ = ["Trainer", "TrainConfig", "CheckpointError", "NonFiniteLossError", "set_seed", "default_device"]
__version__ = "0.1.0"
