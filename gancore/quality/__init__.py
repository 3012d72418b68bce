"""Quality evaluation: does a metric see what is wrong with a set of images?

    degradations.py   controlled damage of known strength: per image (noise, blur,
                      occlusion, colour shift, resampling) and per set (dropped modes,
                      memorised training images, wrong style, wrong content)
    judges.py         every metric of a set against a fixed reference, and which way is worse
    study.py          every metric against every degradation: curves, Spearman correlation
                      with strength, which metric catches which failure; loss net vs grader
    sample_size.py    FD and KID against the number of samples, and the rule that follows
    checkpoints.py    trained checkpoints ranked by each metric, and how far the metrics agree
    validation.py     ``metric_validation``: all of the above in one call (notebook 08)
    ranking.py        rank correlation (Spearman, Kendall), bootstrap intervals, pairwise agreement
    pool.py           outputs of known quality from many generators, with two full-reference truths
    qmodel.py         the learned judge Q(output, content, exemplar) and the reference-free baselines
    hallucinate.py    the hallucinator H: a generator imagines the target, the output is scored against it
    ratings.py        the people's-ratings widget: pairs shown, answers in a CSV, resumable
"""
