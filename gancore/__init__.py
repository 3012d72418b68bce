"""gancore: the package behind the GAN workbook notebooks.

data      real images held in memory (MNIST, Fashion-MNIST), IDX reading
models    MLP and DCGAN generators/discriminators
losses    adversarial losses of logits, plus image losses for style transfer
trainer   one trainer for all models: checkpoints, history, sample grids
metrics   the MNIST feature classifier, Frechet distance, classifier score
"""
import logging as _logging

from .trainer import CheckpointError, NonFiniteLossError, Trainer, TrainConfig, default_device, set_seed

_log = _logging.getLogger("gancore")
if not _log.handlers:  # say which data source was used, also inside notebooks
    _handler = _logging.StreamHandler()
    _handler.setFormatter(_logging.Formatter("gancore: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_logging.INFO)
    _log.propagate = False

__all__ = ["Trainer", "TrainConfig", "CheckpointError", "NonFiniteLossError", "set_seed", "default_device"]
__version__ = "0.1.0"
