"""trainers.plots: PNG size and the text-overlap check that the figure tests rely on."""

import numpy as np
from PIL import Image

from trainers.plots import DPI, new_figure, overlapping_texts, save

RUN_LABELS = ["dcnv2_multi_4x", "dcnv2_single_4x", "random"]


def test_crowded_tick_labels_are_found_and_rotation_clears_them(tmp_path):
    figure, (axis,) = new_figure(3, 2.5)
    axis.bar(RUN_LABELS, [0.5, 0.6, 0.9])
    save(figure, str(tmp_path / "crowded.png"))
    assert ("dcnv2_multi_4x", "dcnv2_single_4x") in overlapping_texts(figure)
    axis.tick_params(axis="x", labelrotation=90)
    save(figure, str(tmp_path / "rotated.png"))
    assert overlapping_texts(figure) == []


def test_tick_labels_outside_the_axis_limits_are_not_counted(tmp_path):
    """Matplotlib keeps labels for ticks beyond the limits without drawing them; they must not count."""
    figure, (axis,) = new_figure(3, 3)
    axis.imshow(np.zeros((39, 39)))  # ticks at -10 and 40 lie outside the image; their labels would collide
    save(figure, str(tmp_path / "limits.png"))
    assert overlapping_texts(figure) == []
    assert [text.get_text() for text in axis.get_xticklabels()] == ["−10", "0", "10", "20", "30", "40"]


def test_png_is_the_figure_size_at_the_shared_dpi(tmp_path):
    figure, _ = new_figure(5.3, 2.9, columns=2)
    save(figure, str(tmp_path / "size.png"))
    with Image.open(tmp_path / "size.png") as image:
        assert image.format == "PNG" and image.size == (round(5.3 * DPI), round(2.9 * DPI))
