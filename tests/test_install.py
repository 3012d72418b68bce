"""What `make setup` would run (make -n: nothing is installed): PyTorch's CPU index one variable away,
the active conda environment used instead of a second .venv, the constraints file, the kernel's name."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def planned(*variables: str, **env: str) -> list[str]:
    """The commands `make -n setup` prints for a fresh environment, with ``env`` (no conda by default)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONDA")}
    out = subprocess.run(["make", "-n", "-B", "setup", *variables], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def pip_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " -m pip install " in line]


def test_the_cpu_wheel_index_is_one_variable_away_and_off_by_default():
    default = pip_lines(planned())
    assert not any("--index-url" in line for line in default)  # pip's own index and local wheels: offline
    torch_line = next(line for line in pip_lines(planned(f"TORCH_INDEX={CPU_INDEX}")) if "torch==" in line)
    assert f"--index-url {CPU_INDEX} torch==" in torch_line
    editable = next(line for line in pip_lines(planned(f"TORCH_INDEX={CPU_INDEX}")) if " -e " in line)
    assert "--index-url" not in editable  # only torch comes from PyTorch's index


def test_an_active_conda_environment_is_used_instead_of_a_second_venv():
    lines = planned(CONDA_PREFIX="/opt/envs/gancore", CONDA_DEFAULT_ENV="gancore")
    assert all(line.startswith("/opt/envs/gancore/bin/python -m pip") for line in pip_lines(lines))
    assert not any(".venv" in line for line in lines)
    base = planned(CONDA_PREFIX="/opt/conda", CONDA_DEFAULT_ENV="base")  # never conda's base environment
    assert all(line.startswith(".venv/bin/python -m pip") for line in pip_lines(base))
    assert all(line.startswith(".venv/bin/python") for line in pip_lines(planned()))


def test_setup_installs_under_the_constraints_and_names_the_kernel_gancore():
    lines = planned()
    assert all(" -c constraints.txt " in line for line in pip_lines(lines)) and len(pip_lines(lines)) == 2
    kernel = next(line for line in lines if "ipykernel install" in line)
    assert '--name gancore --display-name "Python 3 (gancore)"' in kernel


def test_the_constraints_bound_the_libraries_whose_internals_gancore_uses_and_hold_here():
    from importlib.metadata import version

    requirements = [Requirement(re.sub(r"\s+#.*$", "", line)) for line in (ROOT / "constraints.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    bounded = {r.name for r in requirements if any(s.operator == "<" for s in r.specifier)}
    assert {"nbconvert", "papermill", "nbclient", "jupyter_client", "mistune"} <= bounded
    for r in requirements:  # this environment was installed under them
        assert Version(version(r.name)) in r.specifier, f"{r.name} {version(r.name)} is outside {r.specifier}"


def test_environment_yml_installs_what_a_student_needs_without_the_test_extra():
    text = (ROOT / "environment.yml").read_text()
    pip = [line.strip() for line in text.splitlines() if line.strip().startswith("- -e ")]
    assert pip == ["- -e .[notebooks]"]
