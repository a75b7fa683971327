"""trainers.plots: PNG size and the text-overlap check that the figure tests rely on."""

import numpy as np
from PIL import Image

from trainers.plots import DPI, new_figure, overlapping_texts, save, texts_cut_off

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
    """Matplotlib keeps labels for the ticks beyond an image's edge (-20 and 40 here) without drawing them;
    side by side, the undrawn '40' of one panel would collide with the next panel's labels."""
    figure, axes = new_figure(6, 3, columns=4)
    for axis in axes:
        axis.imshow(np.zeros((39, 39)))
    save(figure, str(tmp_path / "limits.png"))
    assert [text.get_text() for text in axes[0].get_xticklabels()] == ["−20", "0", "20", "40"]
    assert overlapping_texts(figure) == []


def test_png_is_the_figure_size_at_the_shared_dpi(tmp_path):
    figure, _ = new_figure(5.3, 2.9, columns=2)
    save(figure, str(tmp_path / "size.png"))
    with Image.open(tmp_path / "size.png") as image:
        assert image.format == "PNG" and image.size == (round(5.3 * DPI), round(2.9 * DPI))


def test_a_title_wider_than_the_figure_is_cut_off(tmp_path):
    figure, (axis,) = new_figure(3, 2.5)
    axis.set_title("a title far too long for a figure three inches wide, as the sweep report once had")
    save(figure, str(tmp_path / "wide.png"))
    assert texts_cut_off(figure) == [axis.get_title()]
    axis.set_title("short")
    save(figure, str(tmp_path / "short.png"))
    assert texts_cut_off(figure) == []
