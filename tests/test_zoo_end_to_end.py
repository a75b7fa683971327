"""Every backbone, single and multi: trainers.fit on the real Criteo sample, then SavedModel export,
with the export's probabilities equal to the in-memory model's on the same raw rows."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from datasets.criteo import raw_rows
from export.requests import example_from_raw
from export.saved_model import export_run
from tests.sample_data import sample_file
from tf_multiemb import BACKBONES
from trainers.config import FitConfig
from trainers.fit import train


@pytest.mark.parametrize("embedding, scale", [("single", 1), ("multi", 2)])
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_fit_and_export_every_backbone(name, embedding, scale, criteo_10k_dir, tmp_path):
    run_dir = tmp_path / "run"
    results = train(FitConfig(data_dir=criteo_10k_dir, model=name, embedding=embedding, scale=scale,
                              embedding_dim=2, hidden_units="16,16", batch_size=512, epochs=1, steps_per_epoch=1,
                              output_dir=str(run_dir), verbose=0))
    assert np.isfinite(results["test_logloss"]) and results["num_sets"] == (scale if embedding == "multi" else 1)

    export_dir = tmp_path / "export" / "1"
    export_run(str(run_dir), str(export_dir))
    loaded = tf.saved_model.load(str(export_dir))
    rows = list(itertools.islice(raw_rows(sample_file("criteo/train-10k.txt")), 64))
    examples = tf.constant([example_from_raw(row) for row in rows])
    ids = loaded.signatures["preprocess_examples"](examples=examples)["ids"].numpy()
    exported = loaded.signatures["serving_default"](examples=examples)["probability"].numpy()
    in_memory = keras.saving.load_model(str(run_dir / "model.keras"), compile=False).predict(ids, verbose=0)
    np.testing.assert_allclose(exported, in_memory[:, 0], atol=1e-6)
