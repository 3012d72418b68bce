"""Every notebook: its structure, a papermill run with injected parameters in
smoke mode (checking its metrics JSON), and a loud failure on a bad parameter.
(nbval runs them too: `pytest --nbval-lax tests notebooks`.)"""
import ast
import json
import math

import nbformat
import papermill as pm
from nbclient.exceptions import DeadKernelError
import pytest

from gancore.experiments import NOTEBOOKS as NOTEBOOKS_WITH_PARAMS
from gancore.experiments import params_class
CELL_TIMEOUT = 480  # s: a smoke cell takes seconds; far beyond that, the kernel is lost, not busy
from gancore.batch import NOTEBOOK_DIR, list_notebooks
from gancore.batch.results import headline_values

NOTEBOOKS = list_notebooks()
IDS = [p.stem for p in NOTEBOOKS]

# Keys each notebook's metrics.json must hold (dotted paths into nested dicts).
REQUIRED_METRICS = {
    "00_overview": ["mnist_source", "mnist_images"],
    "01_gan_derivations": ["max_grad_error_all", "identity_gap", "d_star_gap", "jsd", "v_star",
                           "source_d_grad.correct_max_error", "source_d_grad.source_relative_error"],
    "02_toy_2d": ["seconds_total", "params.steps", "real"],
    "03_mnist_baseline": ["fd", "score", "floor_fd", "floor_score", "steps", "seconds",
                          "classifier_accuracy", "models.dcgan.fd", "models.mlp.fd", "source_loop.peel",
                          "seed", "class_conditional", "clusters", "cluster_purity", "nn_ratio", "near_copies",
                          "levers.r1_gamma", "levers.upsample"],
    "04_conditional_gan": ["accuracy", "accuracy_per_class.0", "accuracy_per_class.9",
                           "classifier_heldout_accuracy", "ms_per_step", "levers.r1_gamma",
                           "levers.spectral_norm", "augment_shift", "mismatch_weight", "nn_ratio", "near_copies"],
    "05_style_transfer_cgan": [f"{split}.{model}.{key}" for split in ("seen", "unseen")
                               for model in ("copy", "l1", "l1+perceptual", "full")
                               for key in ("ssim", "psnr", "perceptual", "fd", "content_acc", "style_acc")],
    "06_photo_style_transfer": [f"{split}.{method}.{key}" for split in ("seen", "unseen")
                                for method in ("copy", "colour_transfer", "l1", "l1+perceptual", "full")
                                for key in ("ssim", "psnr", "perceptual", "fd", "style_acc")]
                               + [f"per_filter.{split}.{method}.{f}" for split in ("seen", "unseen")
                                  for method in ("copy", "full") for f in ("cartoon", "pencil", "kuwahara")]
                               + ["checkerboard.full", "checkerboard.l1", "checkerboard.unet_untrained",
                                  "sizes.64", "sizes.128", "sizes.256", "d_exemplar_gap"]
                               + [f"repair.{method}.{key}" for method in ("mean_fill", "biharmonic", "gan")
                                  for key in ("ssim", "psnr", "perceptual")],
    "07_loss_weight_explorer": ["l1_to_target.warm", "l1_to_target.defaults", "l1_to_target.adv_0",
                                "l1_to_target.l1_0", "warm_steps", "steps_per_click"],
    "08_quality_evaluation": [f"{part}.{key}" for part in ("quality_model", "quality_model_truth2")
                              for key in ("spearman_unseen", "kendall_unseen", "spearman_seen")]
                             + ["discriminator.spearman_unseen", "baselines.ssim_to_content.spearman_unseen",
                                "baselines.perceptual_to_content.spearman_unseen",
                                "baselines.gram_to_exemplar.spearman_unseen", "baselines.artfid_style.spearman_unseen",
                                "pool.train", "ratings.pairs_rated", "style_share.ssim.style",
                                "quality_model.hallucinated.spearman_unseen", "quality_model.combined.spearman_unseen",
                                "hallucinator.ssim_to_target_unseen", "hallucinator.paired_q.ssim",
                                "style_share.perceptual.background"],
}


def code_cells(path):
    return [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def lookup(metrics, dotted):
    for part in dotted.split("."):
        metrics = metrics[part]
    return metrics


def test_the_series_is_all_there():
    assert IDS[:4] == ["00_overview", "01_gan_derivations", "02_toy_2d", "03_mnist_baseline"]
    assert set(IDS) <= set(REQUIRED_METRICS), "add the new notebook's keys to REQUIRED_METRICS"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_structure(path):
    cells = code_cells(path)
    params = cells[0]
    assert "parameters" in params.metadata.get("tags", [])
    tree = ast.parse(params.source)
    names = {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    assert {"seed", "smoke", "out_dir"} <= names
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body), "every parameter is typed"
    for line in params.source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"parameter line without a comment: {line!r}"
    assert f"nb.setup({params_class(path.stem).__name__}, globals())" in cells[1].source, \
        "the second cell is the one setup call"
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"


def parameter_defaults(path):
    tree = ast.parse(code_cells(path)[0].source)
    return {node.target.id: ast.literal_eval(node.value) for node in tree.body}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_is_generated_from_its_class(path):
    """The defaults are written once, in the notebook's params class; `make params` writes the cell."""
    assert IDS == list(NOTEBOOKS_WITH_PARAMS), "register the notebook in gancore.experiments._WHERE"
    cls = params_class(path.stem)
    assert code_cells(path)[0].source == cls.parameters_cell(), "run `make params`"
    assert parameter_defaults(path) == cls.defaults()
    inspected = pm.inspect_notebook(str(path))  # what papermill and batch tools read from the cell
    assert {name: p["default"] for name, p in inspected.items()} == \
        {name: json.dumps(v) if isinstance(v, str) else repr(v) for name, v in cls.defaults().items()}
    assert all(p["help"] for p in inspected.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_papermill_smoke_run_writes_metrics(path, tmp_path, monkeypatch):
    monkeypatch.delenv("GANCORE_SMOKE", raising=False)  # the injected parameters must do the work
    monkeypatch.delenv("GANCORE_OUT_DIR", raising=False)
    out = tmp_path / "out"
    for attempt in (1, 2):
        try:
            pm.execute_notebook(str(path), str(tmp_path / path.name), cwd=str(NOTEBOOK_DIR),
                                parameters={"smoke": True, "out_dir": str(out)}, kernel_name="python3",
                                progress_bar=False, execution_timeout=CELL_TIMEOUT)
            break
        except (TimeoutError, DeadKernelError):
            # Once in a few hundred kernel runs a reply is lost and the client waits forever with the
            # kernel idle; a cell far past any smoke cell's time gets one fresh kernel. A notebook that
            # fails (a cell's error) raises PapermillExecutionError and fails here at once.
            if attempt == 2:
                raise
    metrics = json.loads((out / "metrics.json").read_text())
    for pattern in params_class(path.stem).HEADLINE:  # what a batch's summary shows for each run
        assert headline_values(metrics, (pattern,)), f"HEADLINE {pattern!r} names no key of metrics.json"
    for key in REQUIRED_METRICS[path.stem]:
        value = lookup(metrics, key)
        assert value is not None and value != "", key
        if isinstance(value, float):
            assert math.isfinite(value), key
    if path.stem == "01_gan_derivations":  # the derivations hold even on the smoke grid
        assert metrics["max_grad_error_all"] < 1e-6 and metrics["identity_gap"] < 1e-6
        assert metrics["source_d_grad"]["correct_max_error"] < 1e-6 < metrics["source_d_grad"]["source_relative_error"]
    if path.stem == "02_toy_2d":
        assert metrics["runs"], "the toy notebook reports its runs"
    if path.stem == "03_mnist_baseline":
        import torch
        samples = torch.load(out / "samples.pt")
        assert samples.shape == (5000, 1, 28, 28) and samples.dtype == torch.float32
        assert samples.min() >= -1 and samples.max() <= 1


def test_bad_parameter_stops_the_kernel_with_one_clear_message(tmp_path):
    """Through papermill and a kernel, once: the error a batch run or a student sees."""
    path = NOTEBOOK_DIR / "01_gan_derivations.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(path), str(tmp_path / path.name), cwd=str(NOTEBOOK_DIR),
                            parameters={"seed": -1, "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", progress_bar=False)
    assert err.value.ename == "ParameterError"
    assert "seed must be >= 0, got -1" in err.value.evalue


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_bad_parameter_stops_the_setup_cell(path, tmp_path):
    """Every notebook's own first two cells, run in this process with a bad value injected as
    papermill would (an assignment after the parameters): the setup call refuses it before any work."""
    from gancore.workbook.notebook import ParameterError

    params, setup = (cell.source for cell in code_cells(path)[:2])
    injected = f"seed = -1\nout_dir = {str(tmp_path / 'out')!r}\n"
    namespace = {"__name__": "__notebook__"}
    with pytest.raises(ParameterError, match="seed must be >= 0, got -1"):
        exec(compile(params + "\n" + injected + setup, str(path), "exec"), namespace)
    assert "cfg" not in namespace and not (tmp_path / "out").exists(), "nothing ran past the check"
