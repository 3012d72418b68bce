"""ipywidgets drawn as plain HTML from their saved state, for reports that need no network.

nbconvert embeds the widgets' state in the HTML and leaves the drawing to
``@jupyter-widgets/html-manager``, a script it loads from a CDN at view time;
no Python package ships that script, and offline the panel is blank. Here each
widget view becomes the HTML of its last state instead: sliders, drop-downs,
text fields and buttons as disabled form controls with their values, progress
bars as ``<progress>``, boxes as flex rows and columns, Output widgets with the
images and text they held. A widget this module does not know shows its
``text/plain`` repr, as a notebook viewer without widgets would.
"""
from __future__ import annotations

import html
from typing import Callable

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_MODEL_REF = "IPY_MODEL_"
SNAPSHOT_NOTE = "the widget's state when the notebook was saved; open the notebook in JupyterLab to use it"

# Small, page-local rules; the classes are ours, so JupyterLab's CSS cannot clash with them.
SNAPSHOT_CSS = """
.gc-widget { font-family: var(--jp-ui-font-family); font-size: var(--jp-widgets-font-size, 13px); margin: 2px 0; }
.gc-widget label { display: inline-flex; align-items: center; gap: 0.5em; }
.gc-widget .gc-desc { min-width: 6em; text-align: right; }
.gc-hbox { display: flex; flex-direction: row; gap: 8px; align-items: flex-start; flex-wrap: wrap; }
.gc-vbox { display: flex; flex-direction: column; gap: 4px; }
.gc-output img { max-width: 100%; }
"""


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value) -> str:
    """A value as the readout shows it: floats to their significant digits."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _described(state: dict, control: str) -> str:
    description = state.get("description") or ""
    desc = description if state.get("description_allow_html") else _escape(description)
    return f'<label><span class="gc-desc">{desc}</span>{control}</label>'


class WidgetSnapshot:
    """Draws widget views of one notebook from its saved widget state (``nb.metadata.widgets``)."""

    def __init__(self, notebook_metadata: dict, render_output: Callable[[dict], str]):
        state = notebook_metadata.get("widgets", {}).get(WIDGET_STATE, {})
        self.models = state.get("state", {})
        self.render_output = render_output  # an Output widget's outputs, as the report draws cell outputs

    def view(self, data: dict) -> str:
        """The HTML of one ``widget-view+json`` output: the widget's last state, else its text repr."""
        model_id = data.get(WIDGET_VIEW, {}).get("model_id")
        if model_id in self.models:
            inner = self.model(model_id, seen=frozenset())
        else:  # state not saved (e.g. executed without widget state): what a viewer without widgets shows
            inner = f"<pre>{_escape(data.get('text/plain', ''))}</pre>"
        return f'<div class="gc-widget-snapshot" title="{_escape(SNAPSHOT_NOTE)}">{inner}</div>'

    def model(self, model_id: str, seen: frozenset) -> str:
        if model_id in seen:  # a box that contains itself would recurse forever
            raise ValueError(f"widget {model_id} contains itself; its saved state is corrupt: re-run the notebook")
        entry = self.models.get(model_id)
        if entry is None:
            return ""  # a child whose model was closed before saving: nothing left to draw
        name, state = entry.get("model_name", ""), entry.get("state", {})
        draw = getattr(self, "_" + name, None)
        inner = draw(state, seen | {model_id}) if draw else self._unknown(name, state)
        return f'<div class="gc-widget gc-{_escape(name)}">{inner}</div>'

    def _children(self, state: dict, seen: frozenset) -> str:
        return "".join(self.model(ref.removeprefix(_MODEL_REF), seen) for ref in state.get("children", []))

    # Boxes
    def _HBoxModel(self, state, seen):
        return f'<div class="gc-hbox">{self._children(state, seen)}</div>'

    def _VBoxModel(self, state, seen):
        return f'<div class="gc-vbox">{self._children(state, seen)}</div>'

    _BoxModel = _GridBoxModel = _VBoxModel

    # Values
    def _slider(self, state, seen):
        value, low, high, step = (state.get(k) for k in ("value", "min", "max", "step"))
        control = (f'<input type="range" disabled min="{_escape(low)}" max="{_escape(high)}" '
                   f'step="{_escape(step or "any")}" value="{_escape(value)}"> <output>{_number(value)}</output>')
        return _described(state, control)

    _FloatSliderModel = _IntSliderModel = _FloatLogSliderModel = _slider

    def _progress(self, state, seen):
        value, high = state.get("value", 0), state.get("max", 100)
        return _described(state, f'<progress value="{_escape(value)}" max="{_escape(high)}"></progress>')

    _FloatProgressModel = _IntProgressModel = _progress

    def _text(self, state, seen):
        return _described(state, f'<input type="text" disabled value="{_escape(_number(state.get("value", "")))}">')

    _IntTextModel = _FloatTextModel = _BoundedIntTextModel = _BoundedFloatTextModel = _TextModel = _text

    def _TextareaModel(self, state, seen):
        return _described(state, f'<textarea disabled>{_escape(state.get("value", ""))}</textarea>')

    def _CheckboxModel(self, state, seen):
        checked = " checked" if state.get("value") else ""
        return _described(state, f'<input type="checkbox" disabled{checked}>')

    def _DropdownModel(self, state, seen):
        labels, index = state.get("_options_labels", []), state.get("index")
        options = "".join(f'<option{" selected" if i == index else ""}>{_escape(label)}</option>'
                          for i, label in enumerate(labels))
        return _described(state, f"<select disabled>{options}</select>")

    _SelectModel = _RadioButtonsModel = _ToggleButtonsModel = _DropdownModel

    def _ButtonModel(self, state, seen):
        return f'<button type="button" disabled>{_escape(state.get("description", ""))}</button>'

    # Text and outputs
    def _HTMLModel(self, state, seen):
        return _described(state, f'<span>{state.get("value", "")}</span>')  # HTML by the widget's own contract

    _HTMLMathModel = _HTMLModel

    def _LabelModel(self, state, seen):
        return f'<span>{_escape(state.get("value", ""))}</span>'

    def _OutputModel(self, state, seen):
        return f'<div class="gc-output">{"".join(self.render_output(o) for o in state.get("outputs", []))}</div>'

    def _unknown(self, name, state):
        return f'<pre>{_escape(name.removesuffix("Model") or "widget")}: {_escape(state.get("value", ""))}</pre>'
