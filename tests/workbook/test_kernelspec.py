"""Every notebook names the kernel that `make setup` installs, so JupyterLab opens it with that
kernel and no "kernel not found" dialog (JupyterLab looks the kernel up by `kernelspec.name`),
and with its display name too: where that differs, JupyterLab rewrites it on opening, so the
notebook opens already modified and saving it changes the committed file."""
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from gancore.batch import list_notebooks
from gancore.paths import project_root


def installed_by_make_setup() -> tuple[str, str]:
    """(name, display name) of the `ipykernel install` line in the Makefile, its variables expanded."""
    makefile = (project_root() / "Makefile").read_text()
    found = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', makefile)
    assert found, "the Makefile's setup target must install the project's kernel with ipykernel"
    variables = dict(re.findall(r"^(\w+)\s*\??=\s*(\S*)", makefile, flags=re.M))
    expand = lambda text: re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], text)  # noqa: E731
    return expand(found.group(1)), expand(found.group(2))


def test_make_setup_installs_the_kernel_as_gancore():
    """Not `python3`: a system Jupyter's own python3 kernel would run the notebooks without gancore."""
    assert installed_by_make_setup() == ("gancore", "Python 3 (gancore)")


@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.stem)
def test_every_notebook_asks_for_that_kernel(path):
    spec = nbformat.read(str(path), as_version=4).metadata.get("kernelspec", {})
    name, _ = installed_by_make_setup()
    assert spec.get("name") == name, f"{path.name}: set metadata.kernelspec.name to {name!r}"
    assert spec.get("language") == "python", f"{path.name}: set metadata.kernelspec.language to 'python'"


def test_every_notebook_shows_that_kernel_by_its_display_name():
    _, display_name = installed_by_make_setup()
    shown = {p.stem: nbformat.read(str(p), as_version=4).metadata.get("kernelspec", {}).get("display_name")
             for p in list_notebooks()}
    differ = {stem for stem, name in shown.items() if name != display_name}
    assert not differ, f"set metadata.kernelspec.display_name to {display_name!r} in {sorted(differ)}"


def test_the_kernel_of_that_name_runs_this_environment():
    """A kernel `python3` from another Python would import another gancore, or none."""
    name, _ = installed_by_make_setup()
    spec = KernelSpecManager().get_kernel_spec(name)
    interpreter = Path(spec.argv[0])
    assert spec.language == "python"
    assert interpreter.name.startswith("python")
    if interpreter.is_absolute():  # ipykernel's own spec says "python" and means this interpreter
        assert interpreter.parent.resolve() == Path(sys.executable).parent.resolve(), spec.argv
