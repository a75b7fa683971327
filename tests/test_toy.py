"""Toy experiment of Appendix G (paper Figure 4)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_multiemb.toy import ToyProblem, run_toy_experiment, toy_information_abundance_curve
from trainers.plots import overlapping_texts, texts_cut_off
from trainers.toy import plot_curves


def test_analytic_gradient_matches_autodiff():
    problem = ToyProblem(third_cardinality=7, embedding_dim=4, seed=1)
    first = tf.Variable(problem.first)
    second, third = tf.constant(problem.second), tf.constant(problem.third)
    rows = np.repeat(np.arange(100), 100)
    columns = np.tile(np.arange(100), 100)
    third_rows = problem.third_ids.ravel()
    with tf.GradientTape() as tape:
        e1, e2, e3 = tf.gather(first, rows), tf.gather(second, columns), tf.gather(third, third_rows)
        logits = tf.reduce_sum(e1 * e2 + e1 * e3 + e2 * e3, axis=1)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(problem.labels.ravel(), logits))
    expected = tf.convert_to_tensor(tape.gradient(loss, first)).numpy()  # gather gives IndexedSlices
    np.testing.assert_allclose(problem.loss_gradient(problem.first), expected, rtol=1e-9, atol=1e-12)


def test_same_seed_gives_identical_curves():
    first = toy_information_abundance_curve(3, iterations=50, seed=7)
    assert len(first) == 51
    assert first == toy_information_abundance_curve(3, iterations=50, seed=7)
    assert first != toy_information_abundance_curve(3, iterations=50, seed=8)


def test_low_abundance_third_field_collapses_first_field():
    """The paper's finding at its own setting (5,000 iterations, K = 10): IA(E1) ends lower for D3 = 3."""
    results = run_toy_experiment(iterations=5000, seed=0)
    assert results["small"]["ia"][0] == results["large"]["ia"][0]  # same E1 at the start
    assert results["small"]["final_ia"] < results["large"]["final_ia"] - 0.5


def test_cli_writes_json_and_plot(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "trainers.toy", f"--output_dir={tmp_path}", "--iterations=20"],
                               capture_output=True, text=True, check=True)
    with open(tmp_path / "toy.json") as file:
        results = json.load(file)
    assert len(results["small"]["ia"]) == 21 and results["large"]["third_cardinality"] == 100
    assert results["small"]["final_ia"] == pytest.approx(results["small"]["ia"][-1])
    assert f"{results['small']['final_ia']:.4f}" in completed.stdout
    assert (tmp_path / "toy.png").stat().st_size > 0
    figure = plot_curves({name: results[name] for name in ("small", "large")}, results["settings"],
                         str(tmp_path / "redrawn.png"))
    assert (tmp_path / "redrawn.png").read_bytes() == (tmp_path / "toy.png").read_bytes()
    with Image.open(tmp_path / "toy.png") as image:
        assert image.format == "PNG" and image.size == (660, 462)  # 6 x 4.2 inches at 110 dpi
    assert overlapping_texts(figure) == [] and texts_cut_off(figure) == []
    (axis,) = figure.axes
    assert "K = 10, learning rate 1, seed 0" in axis.get_title()
    assert [line.get_ydata().tolist() for line in axis.get_lines()] == [results["small"]["ia"], results["large"]["ia"]]
