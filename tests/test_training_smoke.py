"""Training-quality smoke: every backbone at 1x single-embedding learns the 10k Criteo sample."""

import keras
import pytest

from tf_multiemb import BACKBONES, build_model
from tf_multiemb.metrics import roc_auc

MIN_TEST_AUC = 0.65


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_learns_criteo_sample(name, criteo_10k_ids):
    keras.utils.set_random_seed(0)
    (train_ids, train_labels), validation = criteo_10k_ids["train"], criteo_10k_ids["val"]
    model = build_model(name, criteo_10k_ids["field_dims"], embedding="single", scale=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc")])
    stopping = keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=2, restore_best_weights=True)
    model.fit(train_ids, train_labels, batch_size=256, epochs=5, validation_data=validation,
              callbacks=[stopping], verbose=0)
    test_ids, test_labels = criteo_10k_ids["test"]
    test_auc = roc_auc(test_labels, model.predict(test_ids, batch_size=1024, verbose=0))
    print(f"{name}: test AUC {test_auc:.4f}")
    assert test_auc > MIN_TEST_AUC, f"{name} reached only test AUC {test_auc:.4f}"
