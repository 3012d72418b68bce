"""gancore.runtime: the CPU model that every benchmark prints with its timings."""
import shutil
import subprocess

import pytest

from gancore.runtime import cpu_model


@pytest.mark.skipif(shutil.which("lscpu") is None, reason="lscpu (util-linux) is not installed")
def test_cpu_model_is_what_lscpu_prints():
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, env={"LC_ALL": "C"}).stdout
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    assert names and cpu_model() == names[0]
