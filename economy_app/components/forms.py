"""Form pieces: a visible label tied to its control.

``rx.text(..., as_="label", html_for=...)`` renders a ``<label>`` with no ``for``: Radix's Text has no
``html_for`` prop and drops it, so a screen reader cannot name the field and a click on the label does not
focus it. ``rx.el.label`` (reflex_components_core ``Label``) renders ``html_for`` as ``htmlFor``, which React
writes as ``for``: that pair (``for`` = the control's ``id``) is what ``field_label`` renders, styled as the
Radix text it replaces.
"""

from __future__ import annotations

import reflex as rx


def field_label(text, control_id: str) -> rx.Component:
    """The visible label of the control whose ``id`` is ``control_id``."""
    return rx.text(rx.el.label(text, html_for=control_id), size="2", weight="medium", as_="div")
