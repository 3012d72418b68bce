"""Notebook 03's data and train_and_evaluate: FD and score measured inside training, on the right models."""
import torch

from gancore.data.sources import load_mnist
from gancore.data.splits import count_shared, overlaps
from gancore.experiments.mnist_baseline import data_parts, train_and_evaluate
from gancore.metrics.distribution import evaluate_samples, reference_stats
from gancore.nets.classifier import DigitClassifier


def test_train_and_evaluate_scores_the_models_it_trains():
    images = load_mnist().images  # (5000, 1, 28, 28)
    train_x, held_x = images[:200], images[4900:]
    torch.manual_seed(0)
    classifier = DigitClassifier(channels=(4, 8), feature_dim=16).eval()  # untrained: any fixed features do
    reference = reference_stats(held_x, classifier)
    settings = dict(eval_every=2, n_eval=50, z_dim=8, width=4, loss="hinge", batch_size=16, lr_g=1e-3,
                    lr_d=1e-3, augment_shift=2, seed=0, device="cpu")
    trainer, curve = train_and_evaluate("dcgan", train_x, 5, reference, classifier, **settings)
    assert trainer.step == 5 and trainer.config.augment_shift == 2
    assert curve["step"].tolist() == [0, 2, 4, 5] and (curve["model"] == "dcgan").all()
    assert sorted(trainer.samples) == [0, 2, 4]  # a grid at step 0 and at every evaluation
    assert curve["seconds"].is_monotonic_increasing and (curve["eval_seconds"] > 0).all()
    # the last row is the final generator, scored again here from the outside
    final = evaluate_samples(trainer.generate(50), reference, classifier)
    assert curve["fd"].iloc[-1] == final["fd"] and curve["score"].iloc[-1] == final["score"]
    assert curve["fd"].nunique() == 4  # the generator changed between evaluations

    mlp, _ = train_and_evaluate("mlp", train_x, 1, reference, classifier, **settings)
    assert mlp.config.augment_shift == 0  # an MLP's D is not shown shifted digits


def test_data_parts_are_three_disjoint_sets_of_the_training_split():
    """The classifier's digits, the GANs' digits and the FD reference share no image (by pixels)."""
    parts = data_parts("mnist", n_eval=1000, seed=0)
    assert {name: len(p) for name, p in parts.items()} == {"classifier": 1500, "gan": 2500, "reference": 1000}
    assert overlaps({name: p.images for name, p in parts.items()}) == {
        ("classifier", "gan"): 0, ("classifier", "reference"): 0, ("gan", "reference"): 0}
    images = load_mnist().images
    together = torch.cat([p.images for p in parts.values()])
    assert count_shared(images, together) == len(images) == len(together)  # they cover the split
    other_seed = data_parts("mnist", n_eval=1000, seed=3)
    assert torch.equal(other_seed["classifier"].images, parts["classifier"].images)  # the cached classifier stays valid
    assert count_shared(other_seed["reference"].images, parts["reference"].images) < 1000  # another reference
    assert count_shared(other_seed["reference"].images, parts["classifier"].images) == 0
