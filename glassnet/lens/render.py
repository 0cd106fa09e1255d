"""One way to write HTML: Jinja2 templates shipped in `glassnet/lens/templates`, rendered with autoescaping on.

Every page glassnet writes (the run report, the tour, a backprop trace) goes through `render_html`, so every value
read from a file or computed from data is escaped by construction; nothing is pasted into markup by hand. The
pages share `base.html`: one stylesheet, inline so the file opens anywhere without a network, and a
Content-Security-Policy that forbids scripts and any fetch except embedded `data:` images.
"""

from __future__ import annotations

import base64
import math
import re
from functools import lru_cache
from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "format_value", "render_html"]

# What the pages may load: nothing but their own inline style and data: images; no script of any kind.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def format_value(value: Any, kind: str | None = None) -> str:
    """A number, list or text as people read it, the same way on every page and in the terminal.

    `kind` "percent" writes a fraction (0.558) as 55.8%; "int" a count with thousands separators; "seconds" one
    decimal and an "s"; "text" leaves it as it is. Without a kind: integers get separators, other numbers four
    significant digits, None a dash, lists their items joined by commas.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, kind) for v in value)
    if kind == "text" or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "seconds":
        return f"{value:.1f} s"
    if isinstance(value, int) or kind == "int":
        return f"{round(value):,}"
    return f"{value:.4g}"


def _png_data_uri(png: bytes | str) -> str:
    """`data:image/png;base64,...` for PNG bytes (or a base64 string already)."""
    data = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return f"data:image/png;base64,{data}"


def _prose(text: Any) -> Any:
    """Text escaped, then `backticked` words set as code: the only markup a sentence may carry."""
    from markupsafe import Markup, escape

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("glassnet.lens", "templates"),
        autoescape=True,  # every page, every value: escaping is the default, never a choice made per template
        undefined=jinja2.StrictUndefined,  # a misspelt name is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = format_value
    env.filters["png_data_uri"] = _png_data_uri
    env.filters["prose"] = _prose
    env.tests["number"] = _is_number
    # our own constant, written as it is (in a double-quoted attribute) so the page shows the policy plainly
    env.globals["content_security_policy"] = markupsafe.Markup(CONTENT_SECURITY_POLICY)
    return env


def render_html(template: str, **context: Any) -> str:
    """Render one of glassnet's HTML templates (e.g. "report.html") with `context`, every value escaped."""
    return _environment().get_template(template).render(**context)
