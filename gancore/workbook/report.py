"""HTML reports of executed notebooks that open with no network.

nbconvert's ``lab`` template loads require.js, MathJax, Mermaid and the widget
renderer from CDNs; opened offline, every formula stays raw TeX and widget
panels stay empty. ``export_html`` keeps the lab template's look (its CSS is
inlined already) and removes every fetch:

* formulas become MathML when the report is written (``gancore.workbook.mathml``
  says why MathML and not a local MathJax: a few hundred bytes a formula, drawn
  by the browser itself, nothing to copy beside the report);
* widgets are drawn as HTML from their saved state (``widget_snapshot``). The
  state's JSON, which nbconvert also pastes into the page for a CDN script to
  draw, is left out: nothing offline can read it, it repeats every image of an
  Output widget (170 KB in notebook 07), and the executed notebook beside the
  report keeps it;
* images in markdown cells are embedded; no script is loaded at all (a Mermaid
  diagram shows its source text); fonts are the system's, as the lab CSS names
  no web font.

A report that would still reference the network (an ``<img src="https://...">``
in a markdown cell, say) is refused with the references listed.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import DictLoader, pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.ansi import strip_ansi
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from gancore.workbook.mathml import FormulaError, tex_to_mathml
from gancore.workbook.widget_snapshot import SNAPSHOT_CSS, WIDGET_VIEW, WidgetSnapshot

# Browsers draw MathML with their own math fonts; these rules only lay formulas out like MathJax did.
MATH_CSS = """
math[display="block"] { margin: 0.8em 0; overflow-x: auto; overflow-y: hidden; }
math { font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", math; }
mtd[columnalign="left"] { text-align: left; }
mtd[columnalign="right"] { text-align: right; }
"""

# nbconvert's lab template (share/jupyter/nbconvert/templates/lab) with the blocks that fetch from a CDN
# emptied, widget views and text/latex outputs drawn here, and the widget state's JSON left out of the footer.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_js_mathjax %}<style type="text/css">""" + MATH_CSS + SNAPSHOT_CSS + """</style>
{% endblock html_head_js_mathjax %}
{% block data_widget_view scoped %}
<div class="jupyter-widgets jp-OutputArea-output {{ extra_class }}">{{ output.data | widget_snapshot }}</div>
{% endblock data_widget_view %}
{% block data_latex scoped %}
<div class="jp-RenderedLatex jp-OutputArea-output {{ extra_class }}" data-mime-type="text/latex">
{{ output.data['text/latex'] | markdown2html }}
</div>
{% endblock data_latex %}
{% block footer %}{% block footer_js %}{% endblock footer_js %}
</html>
{% endblock footer %}
"""
TEMPLATE_FILE = "gancore_offline.html.j2"


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, writing formulas as MathML instead of leaving TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def markdown_to_html(source: str, path: str = "", attachments: dict | None = None) -> str:
    """Markdown with ``$...$``/``$$...$$`` math as HTML with MathML; local images embedded."""
    renderer = MathMLRenderer(escape=False, attachments=attachments or {}, embed_images=True, path=path)
    return MarkdownWithMath(renderer=renderer).render(source)


class OfflineHTMLExporter(HTMLExporter):
    """The lab HTML export with no CDN: MathML formulas, widgets drawn from their saved state."""

    def __init__(self, **kw):
        super().__init__(extra_loaders=[DictLoader({TEMPLATE_FILE: OFFLINE_TEMPLATE})],
                         template_file=TEMPLATE_FILE, embed_images=True, **kw)

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        try:
            return markdown_to_html(source, path, cell.get("attachments", {}))
        except FormulaError as error:
            first_line = (cell.get("source") or source).strip().splitlines()[0][:80]
            raise FormulaError(f"{error} (in the cell starting {first_line!r})") from error

    def from_notebook_node(self, nb, resources=None, **kw):
        snapshot = WidgetSnapshot(nb.metadata, lambda output: self._output_html(snapshot, output))
        self.register_filter("widget_snapshot", snapshot.view)
        return super().from_notebook_node(nb, resources, **kw)

    @staticmethod
    def _output_html(snapshot: WidgetSnapshot, output: dict) -> str:
        """One output held by an Output widget (the report's own cell outputs go through the template)."""
        kind = output.get("output_type")
        if kind == "stream":
            return f"<pre>{_escape(output.get('text', ''))}</pre>"
        if kind == "error":
            return f"<pre>{_escape(strip_ansi(chr(10).join(output.get('traceback', []))))}</pre>"
        data = output.get("data", {})
        if WIDGET_VIEW in data:
            return snapshot.view(data)
        for mime in ("text/html", "image/svg+xml"):
            if mime in data:
                return _joined(data[mime])
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                return f'<img alt="output image" src="data:{mime};base64,{_joined(data[mime]).strip()}">'
        for mime in ("text/markdown", "text/latex"):
            if mime in data:
                return markdown_to_html(_joined(data[mime]))
        return f"<pre>{_escape(_joined(data.get('text/plain', '')))}</pre>"


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _escape(value) -> str:
    return html.escape(_joined(value), quote=False)


_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
_LOADING_ATTRS = {"src", "href", "data", "poster", "srcset", "background"}
_DATA_SCRIPTS = ("application/vnd.jupyter", "application/json", "application/ld+json")


class _NetworkReferences(HTMLParser):
    """Collects every URL the page would fetch: src/href (but not ``<a href>``), CSS url(...), inline scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._inside: str | None = None  # "style" or "script" while reading its text

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in _LOADING_ATTRS and value and tag not in ("a", "area"):  # links are followed, not loaded
                self.found += [f"<{tag} {name}={part.split()[0]}>" for part in value.split(",")
                               if part.strip() and _REMOTE.match(part)]
            if name == "style" and value:
                self._css(value, f"<{tag} style>")
        script_type = (attrs.get("type") or "").lower()
        runs = tag == "style" or (tag == "script" and not script_type.startswith(_DATA_SCRIPTS))
        self._inside = tag if runs else None

    def handle_endtag(self, tag):
        self._inside = None

    def handle_data(self, data):
        if self._inside == "style":
            self._css(data, "<style>")
        elif self._inside == "script":
            self.found += [f"<script> {url}" for url in re.findall(r"https?://[^\s'\"`)]+", data)]

    def _css(self, text, where):
        for match in _CSS_URL.finditer(text):
            url = match.group(1) or match.group(2)
            if _REMOTE.match(url):
                self.found.append(f"{where} {url}")


def network_references(html_text: str) -> list[str]:
    """What a page would load from the network (scripts, styles, images, fonts, CSS urls); [] when offline-safe."""
    parser = _NetworkReferences()
    parser.feed(html_text)
    parser.close()
    return parser.found


def export_html(notebook: str | Path, html_path: str | Path | None = None) -> Path:
    """Write ``notebook`` as an HTML report that opens offline (default: beside it, ``.html``)."""
    import nbformat

    notebook = Path(notebook)
    html_path = Path(html_path) if html_path else notebook.with_suffix(".html")
    node = nbformat.read(str(notebook), as_version=4)
    body, _ = OfflineHTMLExporter().from_notebook_node(
        node, resources={"metadata": {"name": notebook.stem, "path": str(notebook.parent)}})
    remote = network_references(body)
    if remote:
        raise ValueError(f"the HTML report of {notebook.name} would load {len(remote)} thing(s) from the network: "
                         + "; ".join(remote[:5]) + ". Save images beside the notebook (or attach them to the markdown "
                         "cell) and link them by a relative path: the report embeds them.")
    html_path.write_text(body, encoding="utf-8")
    return html_path

