"""Line charts for the investigation figures, drawn with matplotlib into NumPy arrays.

Uses matplotlib's object API with the Agg canvas (no pyplot state, no display), so charts can
be drawn from any thread and tiled next to image grids like any other uint8 image.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np


def line_chart(series, title, xlabel, ylabel, size=(600, 300), hlines=()):
    """Draws a small line chart and returns it as an RGB image.

    Args:
        series: List of `(label, xs, ys)`, one line each, in matplotlib's default colours.
        title: Text above the plot.
        xlabel: Text under the x axis.
        ylabel: Text beside the y axis.
        size: `(width, height)` in pixels. Defaults to `(600, 300)`.
        hlines: List of `(label, y)` drawn as grey dashed reference lines. Defaults to none.

    Returns:
        uint8 RGB image (height, width, 3).
    """
    dpi = 100
    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, xs, ys in series:
        # Markers only while they stay readable.
        axes.plot(xs, ys, label=label, linewidth=1.5, marker="o" if len(xs) <= 40 else None,
                  markersize=3)
    for label, y in hlines:
        axes.axhline(y, color="grey", linestyle="--", linewidth=1)
        axes.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), color="dimgrey",
                      fontsize=7, va="bottom")
    axes.set_title(title, fontsize=9)
    axes.set_xlabel(xlabel, fontsize=8)
    axes.set_ylabel(ylabel, fontsize=8)
    axes.tick_params(labelsize=7)
    axes.set_ylim(bottom=min(0.0, axes.get_ylim()[0]))
    # The legend sits right of the plot, where it hides no line.
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
