"""gancore.workbook.report: HTML reports that open with no network (MathML formulas,
widgets drawn from their saved state, no script or style fetched from anywhere)."""
import re
from html.parser import HTMLParser

import nbformat
import papermill
import pytest

from gancore.batch import list_notebooks
from gancore.workbook.mathml import FormulaError, tex_to_mathml
from gancore.workbook.report import export_html, markdown_to_html, network_references
from gancore.workbook.widget_snapshot import WIDGET_STATE, WIDGET_VIEW

FORMULAS = ("The value is $$\\mathbb{E}_x[\\log D(x)]$$ for every inline $x$, "
            "and [a link](https://example.org) is prose.")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WIDGETS = {  # what ipywidgets saves for VBox([FloatSlider, Dropdown, Output(image)])
    "box": ("VBoxModel", {"children": ["IPY_MODEL_slider", "IPY_MODEL_choice", "IPY_MODEL_out"]}),
    "slider": ("FloatSliderModel", {"description": "adv", "value": 0.3, "min": 0.0, "max": 5.0, "step": 0.1}),
    "choice": ("DropdownModel", {"description": "loss", "_options_labels": ["minimax", "hinge"], "index": 1}),
    "out": ("OutputModel", {"outputs": [{"output_type": "display_data", "data": {"image/png": PNG},
                                         "metadata": {}}]}),
}


class Loads(HTMLParser):
    """What a browser fetches: src/href of every tag but <a>, and url(...)/@import in CSS. Written apart
    from report.network_references so that the test does not check the code with itself."""

    def __init__(self):
        super().__init__()
        self.urls, self.elements, self.scripts_with_src, self._style = [], [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        self.scripts_with_src += tag == "script" and "src" in attrs
        self.urls += [v for k, v in attrs.items() if k in ("src", "href") and tag != "a" and v]
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs.get("style") or "")
        self._style = tag == "style"

    def handle_data(self, data):
        if self._style:
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.urls += re.findall(r"@import\s+['\"]?([^'\"; ]+)", data)


def loads(html):
    parser = Loads()
    parser.feed(html)
    return parser


def write_notebook(path, markdown, outputs=(), widgets=None):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("panel")
    code.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), code]
    if widgets is not None:
        state = {key: {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                       "state": state} for key, (name, state) in widgets.items()}
        nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    nbformat.write(nb, str(path))
    return path


def widget_output(model_id, text="VBox(...)"):
    return {"output_type": "display_data", "metadata": {},
            "data": {WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}, "text/plain": text}}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    latex = {"output_type": "display_data", "metadata": {},
             "data": {"text/latex": "$$\\frac{1}{2}$$", "text/plain": "L"}}
    notebook = write_notebook(folder / "demo.ipynb", FORMULAS, [widget_output("box"), latex], WIDGETS)
    return export_html(notebook).read_text(encoding="utf-8")


def test_the_report_loads_nothing_from_the_network(report):
    found = loads(report)
    assert found.scripts_with_src == 0
    assert [u for u in found.urls if re.match(r"\s*(https?:)?//", u)] == []
    assert "cdnjs" not in report and "unpkg" not in report and "require.min.js" not in report
    assert '<a href="https://example.org">a link</a>' in report  # prose links stay links
    assert network_references(report) == []


def test_formulas_are_mathml_not_tex(report):
    block = re.search(r'<math display="block">(.*?)</math>', report, re.S).group(1)
    assert "\U0001D53C" in block and "<mi>log</mi>" in block and "<mi>D</mi>" in block  # 𝔼_x[log D(x)]
    assert re.search(r'<math display="inline"><mrow><mi>x</mi></mrow></math>', report)
    assert re.search(r"<mfrac><mrow><mn>1</mn></mrow><mrow><mn>2</mn></mrow></mfrac>", report)  # a text/latex output
    assert "$$" not in report and "\\mathbb" not in report and "\\log" not in report


def test_widgets_show_their_saved_state(report):
    elements = loads(report).elements
    assert ("input", {"disabled": "", "max": "5.0", "min": "0.0", "step": "0.1", "type": "range", "value": "0.3"}) \
        in elements
    assert re.search(r'<span class="gc-desc">adv</span><input [^>]*> <output>0.3</output>', report)
    assert '<option>minimax</option><option selected="">hinge</option>' in report
    assert ("img", {"alt": "output image", "src": f"data:image/png;base64,{PNG}"}) in elements  # the Output's image
    assert WIDGET_VIEW not in report and WIDGET_STATE not in report  # no placeholder left for a CDN script


def test_a_widget_without_saved_state_shows_its_text(tmp_path):
    notebook = write_notebook(tmp_path / "plain.ipynb", "no math", [widget_output("gone", "IntSlider(value=7)")])
    html = export_html(notebook).read_text(encoding="utf-8")
    assert "IntSlider(value=7)" in html and "gc-widget-snapshot" not in html


def test_a_remote_image_is_refused_with_the_fix(tmp_path):
    notebook = write_notebook(tmp_path / "remote.ipynb", '<img src="https://example.org/x.png">')
    with pytest.raises(ValueError, match=r"https://example.org/x.png.*relative path"):
        export_html(notebook)
    assert not (tmp_path / "remote.html").exists()


@pytest.mark.parametrize("page, expected", [
    ('<script src="https://cdn.example/a.js"></script>', ["<script src=https://cdn.example/a.js>"]),
    ('<link rel="stylesheet" href="//cdn.example/a.css">', ["<link href=//cdn.example/a.css>"]),
    ("<style>@font-face { src: url('https://f.example/x.woff2') }</style>", ["<style> https://f.example/x.woff2"]),
    ('<style>@import "http://x.example/a.css";</style>', ["<style> http://x.example/a.css"]),
    ('<div style="background: url(https://x.example/b.png)"></div>', ["<div style> https://x.example/b.png"]),
    ('<script>import("https://x.example/m.mjs")</script>', ['<script> https://x.example/m.mjs']),
    ('<a href="https://example.org">ok</a><img src="data:image/png;base64,AAAA"><img src="fig.png">', []),
    ('<script type="application/vnd.jupyter.widget-state+json">{"v": "https://x"}</script>', []),
])
def test_network_references(page, expected):
    assert network_references(page) == expected


def test_tex_to_mathml():
    aligned = tex_to_mathml(r"\begin{aligned} a &= b \\ c &= d \end{aligned}", display=True)
    assert aligned.count("<mtr>") == 2 and 'columnalign="left"' in aligned and "&amp;" not in aligned
    assert "xmlns" not in aligned and "&#x" not in aligned  # characters written as themselves
    assert "<mo>&#x0003C;</mo>" in tex_to_mathml("a < b", display=False)  # markup characters stay escaped
    spaced = tex_to_mathml(r"\log D(x) - \log(1 - x)", display=False)  # TeX's thin space after log, not before (
    assert '<mi>log</mi><mspace width="0.167em"/><mi>D</mi>' in spaced
    assert '<mi>log</mi><mo stretchy="false">(' in spaced
    with pytest.raises(FormulaError, match=r"\\foo"):
        tex_to_mathml(r"\foo{x} + 1", display=False)
    with pytest.raises(FormulaError, match="braces"):
        tex_to_mathml(r"\frac{1}{", display=False)


def test_a_bad_formula_names_its_cell(tmp_path):
    notebook = write_notebook(tmp_path / "bad.ipynb", "## Section 3\n\nthe term $\\weird{x}$")
    with pytest.raises(FormulaError, match=r"\\weird.*'## Section 3'"):
        export_html(notebook)


@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.stem)
def test_every_formula_of_the_workbook_renders(path):
    """A formula MathML cannot draw would otherwise stop `make run` only at its very end."""
    cells = [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "markdown"]
    html = "".join(markdown_to_html(c.source) for c in cells)
    tex_dollars = sum(c.source.count("$") - c.source.count("\\$") for c in cells)
    assert tex_dollars == 0 or "<math" in html
    assert not re.search(r"(?<!\\)\$", re.sub(r"<(pre|code)>.*?</\1>", "", html, flags=re.S)), "TeX left unrendered"


def test_an_executed_notebook_keeps_its_widgets_state_in_the_report(tmp_path):
    """Through papermill, as `make run` does: nbclient saves the widget state and the report draws it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Loss $V(D, G)$"),
                nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.FloatSlider(value=0.25, description='w_adv')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "w.ipynb"))
    executed = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(tmp_path / "w.ipynb"), str(executed), kernel_name="python3", progress_bar=False)
    html = export_html(executed).read_text(encoding="utf-8")
    assert re.search(r'<span class="gc-desc">w_adv</span><input [^>]*value="0.25"/> <output>0.25</output>', html)
    assert "<math" in html and network_references(html) == [] and loads(html).scripts_with_src == 0


def test_snapshot_of_unknown_and_self_containing_widgets():
    from gancore.workbook.widget_snapshot import WidgetSnapshot

    def models(**entries):
        return {"widgets": {WIDGET_STATE: {"state": {k: {"model_name": n, "state": s} for k, (n, s) in entries.items()}}}}

    unknown = WidgetSnapshot(models(m=("ColorPickerModel", {"value": "#ff0000"})), render_output=str)
    assert "ColorPicker: #ff0000" in unknown.view({WIDGET_VIEW: {"model_id": "m"}})
    loop = WidgetSnapshot(models(box=("HBoxModel", {"children": ["IPY_MODEL_box"]})), render_output=str)
    with pytest.raises(ValueError, match="contains itself.*re-run the notebook"):
        loop.view({WIDGET_VIEW: {"model_id": "box"}})
