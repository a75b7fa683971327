"""DropoutReseed: every dropout layer of a model draws its own masks, epochs never reuse a key, and reseeding an
epoch (a resumed run) draws exactly the masks the uninterrupted run drew."""

import keras
import numpy as np

import tf_multiemb
from trainers.training_callbacks import DropoutReseed

FIELD_DIMS = [7, 11, 13]
STEPS = 3


def dnn_dropout_layers():
    """The default DNN's dropout layers (hidden units 400, 400: two dropouts on same-shaped tensors)."""
    model = tf_multiemb.build_model("dnn", FIELD_DIMS, embedding="single", scale=1, hidden_units=(400, 400),
                                    dropout=0.5)
    model(np.zeros((2, len(FIELD_DIMS)), np.int32))
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    assert len(layers) == 2
    return model, layers


def epoch_masks(model, layers, seed: int, epoch: int) -> np.ndarray:
    """Masks (steps, layers, 64, 400) that each dropout layer draws in the first steps of `epoch`."""
    callback = DropoutReseed(seed)
    callback.set_model(model)
    callback.on_epoch_begin(epoch)
    ones = np.ones((64, 400), np.float32)
    return np.array([[keras.ops.convert_to_numpy(layer(ones, training=True)) != 0 for layer in layers]
                     for _ in range(STEPS)])


def test_two_same_shaped_dropout_layers_draw_different_masks_in_every_step():
    model, layers = dnn_dropout_layers()
    masks = epoch_masks(model, layers, seed=0, epoch=0)
    for step in range(STEPS):
        assert (masks[step, 0] != masks[step, 1]).mean() > 0.3  # independent masks at rate 0.5 differ in ~half


def test_no_mask_repeats_across_steps_or_epochs():
    model, layers = dnn_dropout_layers()
    drawn = np.concatenate([epoch_masks(model, layers, seed=0, epoch=epoch).reshape(-1, 64 * 400)
                            for epoch in range(2)])
    assert len({mask.tobytes() for mask in drawn}) == len(drawn) == 2 * STEPS * 2


def test_a_reseeded_epoch_draws_the_same_masks_even_in_a_model_built_later_in_the_same_process():
    # The second model's seed generators have other paths (Keras counts names process-wide): a resumed run in
    # one process must still draw what the first run drew.
    first, second = dnn_dropout_layers(), dnn_dropout_layers()
    np.testing.assert_array_equal(epoch_masks(*first, seed=3, epoch=1), epoch_masks(*second, seed=3, epoch=1))


def test_the_run_seed_changes_the_masks():
    model, layers = dnn_dropout_layers()
    assert not np.array_equal(epoch_masks(model, layers, seed=0, epoch=0), epoch_masks(model, layers, seed=1, epoch=0))
