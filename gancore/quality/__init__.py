"""Quality evaluation: does a metric see what is wrong with a set of images?

    degradations.py   controlled damage of known strength: per image (noise, blur,
                      occlusion, colour shift, resampling) and per set (dropped modes,
                      memorised training images, wrong style, wrong content)
    study.py          every metric against every degradation: curves, Spearman
                      correlation with strength, which metric catches which failure;
                      FD and KID against sample size; checkpoints ranked by each metric
    ranking.py        rank correlation (Spearman, Kendall), bootstrap intervals, pairwise agreement
    pool.py           outputs of known quality from many generators, with two full-reference truths
    qmodel.py         the learned judge Q(output, content, exemplar) and the reference-free baselines
    ratings.py        the people's-ratings widget: pairs shown, answers in a CSV, resumable
"""
