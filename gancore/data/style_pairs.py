"""Paired style-transfer data with known targets, for any style domain.

A :class:`StyleDomain` (content images plus a deterministic renderer) gives
:func:`make_splits` everything it needs: disjoint train/test content pools,
styles split into seen and unseen, and :class:`StyleTransferSet` triples
(content, exemplar, target) whose exemplar shows another content in the same
style. Digits (``gancore.data.digit_styles``) and photos
(``gancore.data.photo_styles``) are two such domains.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import torch
from torch import Tensor
from tqdm.auto import tqdm


def check_value(attribute: str, value, valid: tuple[str, ...]) -> None:
    """ValueError naming the valid values when ``value`` is not one of them."""
    if value not in valid:
        raise ValueError(f"unknown {attribute} {value!r}; valid values: {', '.join(valid)}")


def index_to_values(index, attributes: dict[str, tuple[str, ...]]) -> list[str]:
    """Attribute indices -> attribute values, with a clear error for a bad index."""
    index = [int(i) for i in index]
    if len(index) != len(attributes):
        raise ValueError(f"a style index has {len(attributes)} entries, got {len(index)}")
    for (attr, values), i in zip(attributes.items(), index):
        if not 0 <= i < len(values):
            raise ValueError(f"{attr} index {i} out of range 0..{len(values) - 1}")
    return [values[i] for values, i in zip(attributes.values(), index)]


# ------------------------------------------------------------------------------ domains

class StyleDomain:
    """Content images plus a deterministic renderer: what :func:`make_splits` needs.
    A subclass sets the attributes below and implements ``style`` and ``render``."""

    name: str
    attributes: dict[str, tuple[str, ...]]          # attribute -> valid values
    unseen_values: dict[str, tuple[str, ...]] = {}  # values no training style uses
    holdout_pair: tuple[str, str]                   # some pairs of their values are held out
    images: Tensor  # (N, C, H, W) in [-1, 1]
    labels: Tensor  # (N,) int64; exemplars come from another label where there is one
    test_fraction: float = 0.2

    def content(self, seed: int) -> dict[str, tuple[Tensor, Tensor]]:
        """Disjoint pools ``{"train": (images, labels), "test": (images, labels)}``."""
        n = len(self.images)
        n_test = round(n * self.test_fraction)
        if not 0 < self.test_fraction < 1 or n_test < 2 or n - n_test < 2:
            raise ValueError(f"cannot split {n} images into train and test pools with "
                             f"test_fraction={self.test_fraction}: need >= 2 in each")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        test, train = perm[:n_test], perm[n_test:]
        return {"train": (self.images[train], self.labels[train]),
                "test": (self.images[test], self.labels[test])}

    def style(self, index):  # the style object with these attribute indices
        raise NotImplementedError

    def render(self, content: Tensor, style) -> Tensor:  # (N, C, H, W) -> (N, 3, H, W), in [-1, 1]
        raise NotImplementedError

    def render_styles(self, content: Tensor, style_index: Tensor) -> Tensor:
        """Each row of ``content`` in the style of that row of ``style_index`` (N, k)."""
        out = None
        for combo in style_index.unique(dim=0):
            rows = (style_index == combo).all(1).nonzero().squeeze(1)
            rendered = self.render(content[rows], self.style(combo.tolist()))
            if out is None:  # the renderer decides the output shape
                out = rendered.new_empty((len(content), *rendered.shape[1:]))
            out[rows] = rendered
        return out


# ------------------------------------------------------------------------------- splits

@dataclass
class StyleTransferSet:
    """One split: ``target[i]`` is ``content[i]`` rendered in the style of ``exemplar[i]``."""

    content: Tensor    # (N, 1, 32, 32) plain digits in [-1, 1] (photos: (N, 3, 64, 64))
    exemplar: Tensor   # (N, 3, 32, 32) another image, of another class, in the same style
    target: Tensor     # (N, 3, 32, 32) the content in that style
    digit: Tensor      # (N,) int64 content labels (photos: the source photo)
    style: Tensor      # (N, n_attributes) int64 attribute indices
    split: str
    attributes: dict[str, tuple[str, ...]] | None = None  # decodes ``style``; None: the digits'
    exemplar_content: Tensor | None = None  # (N, 1, 32, 32) the exemplar's plain image
    exemplar_digit: Tensor | None = None    # (N,) int64 the exemplar's label

    def __post_init__(self):
        if self.attributes is None:  # the digits' attributes; imported here, as digit_styles imports this module
            from gancore.data.digit_styles import STYLE_ATTRIBUTES
            self.attributes = STYLE_ATTRIBUTES
        self.attributes = dict(self.attributes)

    def __len__(self) -> int:
        return len(self.content)

    def _map(self, fn) -> "StyleTransferSet":
        names = ("content", "exemplar", "target", "digit", "style", "exemplar_content", "exemplar_digit")
        return replace(self, **{k: fn(getattr(self, k)) for k in names if getattr(self, k) is not None})

    def subset(self, idx) -> "StyleTransferSet":
        """The samples at ``idx`` (a slice, index tensor or boolean mask)."""
        return self._map(lambda t: t[idx])

    def to(self, device) -> "StyleTransferSet":
        return self._map(lambda t: t.to(device))

    def style_names(self, i: int) -> dict[str, str]:
        """Sample ``i``'s style as attribute -> value."""
        return dict(zip(self.attributes, index_to_values(self.style[i], self.attributes)))

    def combos(self) -> set[tuple[int, ...]]:
        """The distinct styles present, as index tuples."""
        return {tuple(s) for s in self.style.tolist()}


def style_splits(domain: StyleDomain, seed: int = 0) -> dict[str, list[tuple[int, ...]]]:
    """Every style of ``domain`` as an index tuple, split into ``train`` and ``unseen``.

    A style is unseen when it uses one of ``domain.unseen_values``, or when its
    ``holdout_pair`` values are a held-out pair: each seen value of the first attribute
    loses one partner (drawn from the seed), so every seen value still appears in
    train, only not in every combination.
    """
    names, attrs = list(domain.attributes), domain.attributes
    for attr, values in domain.unseen_values.items():
        for v in values:
            check_value(attr, v, attrs[attr])
    unseen = {names.index(a): {attrs[a].index(v) for v in vals} for a, vals in domain.unseen_values.items()}
    a, b = (names.index(n) for n in domain.holdout_pair)
    seen_a = [i for i in range(len(attrs[names[a]])) if i not in unseen.get(a, ())]
    seen_b = [i for i in range(len(attrs[names[b]])) if i not in unseen.get(b, ())]
    if len(seen_b) < 2:
        raise ValueError(f"holding out pairs needs >= 2 seen values of {names[b]!r}")
    order = torch.randperm(len(seen_b), generator=torch.Generator().manual_seed(seed)).tolist()
    held = {(ia, seen_b[order[k % len(seen_b)]]) for k, ia in enumerate(seen_a)}

    splits = {"train": [], "unseen": []}
    for combo in itertools.product(*(range(len(v)) for v in attrs.values())):
        novel = any(combo[i] in vals for i, vals in unseen.items()) or (combo[a], combo[b]) in held
        splits["unseen" if novel else "train"].append(combo)
    return splits


def _balanced(n: int, k: int, gen: torch.Generator) -> Tensor:
    """n draws from range(k), each value used once before any is used twice."""
    return torch.cat([torch.randperm(k, generator=gen) for _ in range(-(-n // k))])[:n]


def other_instance(labels: Tensor, content_idx: Tensor, gen: torch.Generator) -> Tensor:
    """For each content index, a pool index drawn uniformly from the other classes
    (in a one-class pool: from the other instances)."""
    n = len(labels)
    classes, counts = torch.unique(labels, return_counts=True)
    if len(classes) == 1:
        r = (torch.rand(len(content_idx), generator=gen) * (n - 1)).long()
        return r + (r >= content_idx).long()
    order = torch.argsort(labels, stable=True)            # pool indices grouped by class
    starts = torch.cumsum(counts, 0) - counts
    c = torch.searchsorted(classes, labels[content_idx])  # each content's class
    r = (torch.rand(len(content_idx), generator=gen) * (n - counts[c])).long()
    return order[r + counts[c] * (r >= starts[c]).long()]  # skip over the content's own class


def mismatched_exemplars(data: StyleTransferSet, seed: int = 0) -> Tensor:
    """For each triple, the exemplar of a random other triple whose style differs (N, C, H, W):
    the *wrong* condition of matching-aware negatives. ValueError when ``data`` has one style."""
    if len(data.combos()) < 2:
        raise ValueError("mismatched exemplars need >= 2 styles in the set, got 1")
    gen = torch.Generator().manual_seed(seed)
    pick = torch.empty(len(data), dtype=torch.int64)
    for combo in data.style.unique(dim=0):
        same = (data.style == combo).all(1)
        others = (~same).nonzero().squeeze(1)  # (n_other,) triples of another style
        rows = same.nonzero().squeeze(1)
        pick[rows] = others[torch.randint(len(others), (len(rows),), generator=gen)]
    return data.exemplar[pick]


def make_splits(domain: StyleDomain, n_train: int, n_test: int, seed: int = 0) -> dict[str, StyleTransferSet]:
    """``train``, ``test_seen`` and ``test_unseen`` sets of ``domain`` (see the module doc).

    Content images are drawn from the split's pool, and styles from the split's style
    list, each used once before any is used twice; all from ``seed``.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if int(n) < 1:
            raise ValueError(f"{name} must be >= 1, got {n}")
    gen = torch.Generator().manual_seed(seed)
    pools, styles = domain.content(seed), style_splits(domain, seed)
    plan = {"train": ("train", styles["train"], n_train),
            "test_seen": ("test", styles["train"], n_test),
            "test_unseen": ("test", styles["unseen"], n_test)}
    out = {}
    for split, (pool_name, style_list, n) in tqdm(plan.items(), desc=f"rendering {domain.name}", leave=False):
        pool, labels = pools[pool_name]
        content_idx = _balanced(n, len(pool), gen)
        exemplar_idx = other_instance(labels, content_idx, gen)
        style = torch.tensor(style_list, dtype=torch.int64)[_balanced(n, len(style_list), gen)]  # (n, k)
        content, exemplar_content = pool[content_idx], pool[exemplar_idx]
        out[split] = StyleTransferSet(
            content, exemplar=domain.render_styles(exemplar_content, style),
            target=domain.render_styles(content, style), digit=labels[content_idx], style=style,
            split=split, attributes=domain.attributes, exemplar_content=exemplar_content,
            exemplar_digit=labels[exemplar_idx])
    return out
