"""The Figure class of glassnet.lens.plots: matplotlib's Figure that shows itself in Jupyter (imports matplotlib)."""

from __future__ import annotations

from matplotlib.figure import Figure


class GlassnetFigure(Figure):
    """A matplotlib Figure that Jupyter displays inline as a PNG, with no pyplot and no `%matplotlib inline`.

    glassnet builds its figures without pyplot (no global state, nothing to close), so IPython's matplotlib
    integration never sees them; `_repr_png_` is IPython's own protocol for "draw me as a picture".
    """

    def _repr_png_(self) -> bytes:
        from glassnet.lens.plots import figure_to_png_bytes

        return figure_to_png_bytes(self, dpi=100)
