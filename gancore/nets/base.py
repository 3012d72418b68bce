"""What every network shares: DCGAN initialisation, a record of how to rebuild it, and the
generator/discriminator base classes.

Noise generators are called as ``G(z, *condition)`` and discriminators as
``D(x, *condition)``, returning logits, so one trainer serves unconditional and
class-conditional models alike. Translation models have no noise (``z_dim = 0``)
and take their inputs by name: ``G(content=..., exemplar=...)``,
``D(image, content=..., exemplar=...)``.

Every subclass of :class:`Rebuildable` (all of them) remembers the arguments it was
built with in ``net.config``, and ``build_net(type(net).__name__, net.config)``
returns a fresh copy: what a checkpoint stores so it can rebuild its models.
"""
from __future__ import annotations

import functools
import importlib
import inspect

import torch
from torch import Tensor, nn

NET_CLASSES: dict[str, type[nn.Module]] = {}  # class name -> class, filled as classes are defined
_NET_MODULES = ("unconditional", "conditional", "translation", "filter_translation")  # imported by build_net to fill it


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv and linear weights
    N(0, 0.02), batch-norm scale N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


UPSAMPLE_MODES: tuple[str, ...] = ("transposed", "nearest")


def upsample_conv(in_channels: int, out_channels: int, mode: str = "transposed", bias: bool = True) -> nn.Module:
    """Double the height and width of (B, in, H, W) maps into (B, out, 2H, 2W).

    transposed  ConvTranspose2d(kernel 4, stride 2, padding 1): DCGAN's; its kernel overlaps
                unevenly, so outputs alternate with period 2 (checkerboard artefacts)
    nearest     nearest-neighbour upsampling, then Conv2d(kernel 3, padding 1) (Odena et al.
                2016): every output pixel sees the same number of input pixels, no checkerboard
    """
    if mode == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=bias)
    if mode == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                             nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=bias))
    raise ValueError(f"unknown upsample mode {mode!r}; choose one of: {', '.join(UPSAMPLE_MODES)}")


def spectrally_normalised(module: nn.Module) -> nn.Module:
    """``module`` with spectral normalisation (Miyato et al. 2018) on every conv, linear and
    embedding weight: W / sigma(W), sigma the largest singular value of W reshaped to
    (out, in * kh * kw), estimated by one power iteration per training forward pass
    (torch.nn.utils.parametrizations.spectral_norm). Each layer is then 1-Lipschitz in that
    reshaped sense, which bounds how sharply D can change between nearby images."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    for layer in layers:
        nn.utils.parametrizations.spectral_norm(layer)
    return module


def _recording_init(cls: type, init):
    """``init`` that, once it has run, stores its arguments (defaults filled in) as ``self.config``.

    The outermost ``__init__`` finishes last, so a subclass's own arguments win over
    those its ``super().__init__`` call passed on."""
    signature = inspect.signature(init)
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        raise TypeError(f"{cls.__name__}.__init__ takes *args, so its config could not be rebuilt by "
                        "name; give every argument a name")

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        config = {}
        for name, value in list(bound.arguments.items())[1:]:  # [0] is self
            is_var_kw = signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD
            config.update(value if is_var_kw else {name: value})
        self.config = config

    return wrapper


class Rebuildable(nn.Module):
    """A network that records its constructor arguments in ``self.config`` (a dict), so that
    ``build_net(type(net).__name__, net.config)`` builds the same architecture again.

    Subclasses are registered by class name when they are defined; two classes of one
    name from different modules would make a saved name ambiguous, so that raises."""

    config: dict

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        known = NET_CLASSES.get(cls.__name__)
        if known is not None and known.__module__ != cls.__module__:
            raise TypeError(f"a network class named {cls.__name__} already exists in {known.__module__}; "
                            f"give the one in {cls.__module__} another name, so checkpoints can tell them apart")
        NET_CLASSES[cls.__name__] = cls  # the same module redefining it (a re-run cell) replaces it
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls, cls.__dict__["__init__"])


def build_net(class_name: str, config: dict) -> nn.Module:
    """A new, freshly initialised ``class_name`` network built from ``config`` (a ``net.config``)."""
    for module in _NET_MODULES:  # make sure gancore's own classes are registered
        importlib.import_module(f"gancore.nets.{module}")
    if class_name not in NET_CLASSES:
        raise ValueError(f"unknown network class {class_name!r}; known: {', '.join(sorted(NET_CLASSES))}. "
                         "Import the module that defines it first")
    if not isinstance(config, dict):
        raise TypeError(f"the config of {class_name} must be a dict of its constructor arguments, "
                        f"got {type(config).__name__}")
    return NET_CLASSES[class_name](**config)


def net_spec(net: nn.Module | None) -> dict | None:
    """``{"class": name, "config": net.config}``, what a checkpoint stores per model; None for no
    model. ``config`` is None for a network that does not record one (not a Rebuildable)."""
    if net is None:
        return None
    config = getattr(net, "config", None)
    return {"class": type(net).__name__, "config": dict(config) if isinstance(config, dict) else None}


class Generator(Rebuildable):
    """Base class: ``z_dim`` is the noise size the trainer draws; 0 means no noise, and then the
    trainer calls the generator without ``z``."""

    z_dim: int = 0

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise (n, z_dim) on the CPU; callers move it to the model's device."""
        return torch.randn(n, self.z_dim, generator=generator)


class Discriminator(Rebuildable):
    """Base class: maps images (and a condition) to logits of shape (B,)."""
