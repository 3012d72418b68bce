"""Notebook 08's split of the truth into style and painting: style_share, by_attribute, style_paragraph, by hand."""
import pytest
import torch

from gancore.experiments.quality import by_attribute, style_paragraph, style_share
from gancore.quality.pool import Pool
from gancore.quality.ranking import spearman

ATTRIBUTES = {"ink": ("black", "red"), "background": ("white", "gravel", "brick")}


def pool_of(styles: list[tuple[int, int]]) -> Pool:
    n = len(styles)
    x = torch.zeros(n, 3, 4, 4)
    return Pool(x, x[:, :1], x, x, ["s"] * n, ["f"] * n, "test_unseen", style=torch.tensor(styles),
                attributes=ATTRIBUTES)


def test_style_share_is_one_when_the_style_decides_and_matches_a_hand_computation():
    pool = pool_of([(0, 0), (0, 0), (0, 1), (1, 1)])
    decided = torch.tensor([5.0, 5.0, 1.0, 3.0])  # one value per style
    share = style_share(decided, pool)
    assert share["style"] == pytest.approx(1.0, abs=1e-12)
    # per background: white -> mean 5, gravel -> mean (1 + 3) / 2 = 2
    assert share["background"] == pytest.approx(spearman([5, 5, 2, 2], [5, 5, 1, 3]), abs=1e-12)
    assert 0.5 < share["background"] < 1.0
    mixed = torch.tensor([1.0, 4.0, 2.0, 3.0])  # within-style spread: the style no longer decides
    assert style_share(mixed, pool)["style"] < 0.9


def test_by_attribute_places_each_value_in_both_rankings_by_hand():
    pool = pool_of([(0, 0), (0, 0), (0, 1), (0, 1), (0, 2), (0, 2)])
    truth = torch.tensor([6.0, 5.0, 1.0, 2.0, 4.0, 3.0])  # gravel is the worst background
    judge = torch.tensor([5.0, 3.0, 6.0, 4.0, 2.0, 1.0])  # the judge rates gravel best: it over-rates it
    table = by_attribute(judge, truth, pool, "background")
    # percentiles of 6 items: rank / 6 (1 = best)
    assert table.loc["gravel", "truth percentile"] == pytest.approx((1 / 6 + 2 / 6) / 2)
    assert table.loc["gravel", "judge percentile"] == pytest.approx((6 / 6 + 4 / 6) / 2)
    assert table.loc["white", "judge percentile"] == pytest.approx((5 / 6 + 3 / 6) / 2)
    assert table.loc["brick", "items"] == 2
    assert table.loc["gravel", "spearman within"] == pytest.approx(-1.0)
    assert table.loc["brick", "spearman within"] == pytest.approx(1.0)
    text = style_paragraph(style_share(truth, pool), table, "Q scratch", "ssim")
    # the largest gap either way: gravel +0.58 (white -0.25, brick -0.33)
    assert "background **gravel** most (2 outputs)" in text and "0.25, Q scratch at 0.83" in text
    with pytest.raises(ValueError, match="unknown attribute 'slant'"):
        by_attribute(judge, truth, pool, "slant")


def test_a_pool_without_styles_says_so():
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="no styles"):
        style_share(torch.tensor([1.0, 2.0]), Pool(x, x[:, :1], x, x, ["s"] * 2, ["f"] * 2, "seen"))
    with pytest.raises(ValueError, match="one entry per output"):
        Pool(x, x[:, :1], x, x, ["s"] * 2, ["f"] * 2, "seen", style=torch.zeros(3, 2, dtype=torch.long))
    labels = pool_of([(1, 2), (0, 1)]).labels()  # indices decoded to the attributes' values
    assert labels[["ink", "background"]].values.tolist() == [["red", "brick"], ["black", "gravel"]]
