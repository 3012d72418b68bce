"""gancore.quality.ratings, headless: clicks write the CSV, a new widget resumes, simulated rows say so,
agreement with no ratings is a plain message, bad files and pairs fail loudly."""
import copy

import pandas as pd
import pytest
import torch

from gancore.quality.pool import build_pool
from gancore.quality.ratings import (COLUMNS, NO_RATINGS, RatingWidget, agreement_table, rater_agreement,
                                     rating_pairs, read_ratings, show_agreement, truth_rater)


@pytest.fixture(scope="module")
def pool(world):
    return build_pool(world["data"], world["generators"], copy=True)


def test_pairs_share_their_inputs_and_differ_in_source(pool):
    pairs = rating_pairs(pool, 10, seed=0)
    assert len(pairs) == 10 and pairs == rating_pairs(pool, 10, seed=0) and len(set(pairs)) == 10
    for a, b in pairs:
        assert torch.equal(pool.content[a], pool.content[b]) and torch.equal(pool.exemplar[a], pool.exemplar[b])
        assert pool.source[a] != pool.source[b]
    with pytest.raises(ValueError, match="n_pairs"):
        rating_pairs(pool, 0)


def test_clicks_write_the_csv_and_a_new_widget_resumes(pool, tmp_path):
    path, pairs = tmp_path / "ratings.csv", rating_pairs(pool, 4, seed=1)
    widget = RatingWidget(pool, pairs, path, rater="ana")  # draws the first pair into its Output
    a, b = pairs[0]
    assert widget.position == 0 and torch.equal(widget.shown()[2:], pool.output[[a, b]])
    widget.buttons["a"].click()
    widget.buttons["b"].click()
    saved = pd.read_csv(path)
    assert list(saved.columns) == list(COLUMNS) and len(saved) == 2
    assert list(saved["choice"]) == ["a", "b"] and list(saved["pair"]) == [0, 1]
    assert list(zip(saved["item_a"], saved["item_b"])) == pairs[:2]
    assert (saved["rater"] == "ana").all() and not saved["simulated"].any()
    assert saved.loc[0, "source_a"] == pool.source[pairs[0][0]]

    again = RatingWidget(pool, pairs, path, rater="ana", show=False)  # stopped and came back
    assert again.position == 2 and "2 of 4" in again.status.value
    assert torch.equal(again.shown()[3], pool.output[pairs[2][1]])
    again.on_choose("a")
    again.on_choose("b")
    assert again.position is None and all(b.disabled for b in again.buttons.values())
    with pytest.raises(ValueError, match="already rated"):
        again.on_choose("a")
    assert len(read_ratings(path)) == 4 and not list(tmp_path.glob(".ratings.csv.*"))  # no temporary left over


def test_simulated_ratings_are_labelled_and_agree_with_their_truth(pool, tmp_path):
    truth = torch.linspace(0, 1, len(pool))
    widget = RatingWidget(pool, rating_pairs(pool, 6, seed=2), tmp_path / "r.csv", show=False)
    widget.on_choose("a")  # one person's answer first
    widget.simulate(10, truth_rater(truth))  # stops at the last pair
    ratings = read_ratings(tmp_path / "r.csv")
    assert list(ratings["simulated"]) == [False] + [True] * 5
    table = agreement_table(ratings.iloc[1:], {"truth": truth, "reversed": -truth}, n_boot=50, simulated=True)
    assert table.loc["truth", "agreement"] == 1.0 and table.loc["reversed", "agreement"] == 0.0
    assert table.loc["truth", "simulated"] == 5 and table.loc["truth", "pairs"] == 5
    assert 0 <= table.loc["truth", "low"] <= table.loc["truth", "high"] <= 1
    assert agreement_table(ratings.iloc[1:], {"truth": truth}) is None  # by default only people count
    people = agreement_table(ratings, {"truth": truth}, n_boot=50)
    assert people.loc["truth", "pairs"] == 1 and people.loc["truth", "simulated"] == 0
    assert people.loc["truth", "simulated_left_out"] == 5


def test_two_raters_share_a_file_and_their_agreement_is_measured(pool, tmp_path):
    path, pairs = tmp_path / "shared.csv", rating_pairs(pool, 4, seed=3)
    ana = RatingWidget(pool, pairs, path, rater="ana", show=False)
    for choice in "aabb":
        ana.on_choose(choice)
    assert ana.position is None
    bo = RatingWidget(pool, pairs, path, rater="bo", show=False)
    assert bo.position == 0 and "0 of 4 pairs rated by bo" in bo.status.value  # bo rates every pair too
    for choice in "abbb":
        bo.on_choose(choice)
    bo.simulate(4, lambda a, b: "a")  # nothing left for bo: no simulated rows
    ratings = read_ratings(path)
    assert list(ratings["rater"]) == ["ana"] * 4 + ["bo"] * 4
    agreement = rater_agreement(ratings)
    assert agreement.to_dict("records") == [{"rater_1": "ana", "rater_2": "bo", "pairs": 4, "agreement": 0.75}]
    assert rater_agreement(ratings[ratings["rater"] == "ana"]) is None


def test_a_file_made_for_other_images_is_refused(pool, tmp_path):
    path, pairs = tmp_path / "r.csv", rating_pairs(pool, 3, seed=0)
    RatingWidget(pool, pairs, path, show=False).on_choose("a")
    other = copy.copy(pool)
    other.output = pool.output.flip(-1)  # the same pairs of indices, other outputs
    with pytest.raises(ValueError, match="made for other images.*another out_dir or move the file away"):
        RatingWidget(other, pairs, path, show=False)
    assert RatingWidget(pool, pairs, path, show=False).position == 1  # its own images resume


def test_no_ratings_says_so_and_makes_none_up(tmp_path, capsys):
    empty = read_ratings(tmp_path / "none.csv")
    assert len(empty) == 0 and list(empty.columns) == list(COLUMNS)
    assert agreement_table(empty, {"truth": torch.ones(3)}) is None
    assert show_agreement(empty, {"truth": torch.ones(3)}) is None
    assert NO_RATINGS in capsys.readouterr().out
    assert not (tmp_path / "none.csv").exists()


def test_bad_files_choices_and_pairs_fail_loudly(pool, tmp_path):
    pairs = rating_pairs(pool, 3, seed=0)
    (tmp_path / "bad.csv").write_text("hello,world\n1,2\n")
    with pytest.raises(ValueError, match="not a ratings CSV"):
        RatingWidget(pool, pairs, tmp_path / "bad.csv", show=False)
    widget = RatingWidget(pool, pairs, tmp_path / "ok.csv", show=False)
    with pytest.raises(ValueError, match="choice must be one of"):
        widget.on_choose("c")
    widget.on_choose("a")
    with pytest.raises(ValueError, match="other pairs"):  # the same file with another draw of pairs
        RatingWidget(pool, [(pairs[0][1], pairs[0][0])] + pairs[1:], tmp_path / "ok.csv", show=False)
    with pytest.raises(ValueError, match="different item indices"):
        RatingWidget(pool, [(0, 0)], tmp_path / "x.csv", show=False)
    with pytest.raises(ValueError, match="rater"):
        RatingWidget(pool, pairs, tmp_path / "x.csv", rater=" ", show=False)
