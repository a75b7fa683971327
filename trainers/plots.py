"""Matplotlib helpers shared by the commands that draw figures (analyze, sweep report, data amount, toy).

Every figure is saved at DPI dots per inch without cropping, so a PNG is exactly the figure's size
in inches times DPI; `overlapping_texts` lists any two texts of a figure that collide and `texts_cut_off`
those that run past its edges.
"""

import itertools

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 110


def new_figure(width: float, height: float, columns: int = 1, **options) -> tuple[Figure, list]:
    """A figure of width x height inches with one row of `columns` axes, laid out by matplotlib's constrained
    layout (room for titles, colour bars and rotated labels)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # pyplot-free: nothing global to close, and text extents to measure
    return figure, list(figure.subplots(1, columns, squeeze=False, **options)[0])


def save(figure: Figure, path: str) -> Figure:
    """Writes the figure as a PNG; returns it."""
    figure.savefig(path, dpi=DPI)
    return figure


def integer_ticks(axis) -> None:
    """Only whole numbers on the x axis (epochs, iterations, counts)."""
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))


def visible_texts(figure: Figure) -> list:
    """The texts a reader sees: titles, axis labels, tick labels inside the axis limits, legends, figure texts."""
    figure.canvas.draw()
    texts = list(figure.texts)  # the suptitle included
    for axes in figure.axes:
        texts += [axes.title, axes.xaxis.label, axes.yaxis.label]
        texts += _tick_labels_in_view(axes.xaxis, axes.get_xlim()) + _tick_labels_in_view(axes.yaxis, axes.get_ylim())
        texts += axes.get_legend().get_texts() if axes.get_legend() else []
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def _tick_labels_in_view(axis, limits) -> list:
    low, high = sorted(limits)
    ticks = [(tick, location) for ticks, locations in ((axis.get_major_ticks(), axis.get_majorticklocs()),
                                                       (axis.get_minor_ticks(), axis.get_minorticklocs()))
             for tick, location in zip(ticks, locations)]
    return [label for tick, location in ticks if low <= location <= high for label in (tick.label1, tick.label2)]


def texts_cut_off(figure: Figure) -> list[str]:
    """Visible texts that reach beyond the figure's edges (an empty list for a readable figure)."""
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in visible_texts(figure)]
    return [name for name, box in boxes  # a pixel and a half of rounding allowed
            if min(box.x0, box.y0) < -1.5 or box.x1 > width + 1.5 or box.y1 > height + 1.5]


def overlapping_texts(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of visible texts whose drawn extents intersect (an empty list for a readable figure)."""
    renderer = figure.canvas.get_renderer()
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in visible_texts(figure)]
    return [(first, second) for (first, a), (second, b) in itertools.combinations(boxes, 2) if a.overlaps(b)]

