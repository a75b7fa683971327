"""Criteo-shaped field cardinalities for benchmarks: 39 fields from 4 to ~0.19M, summing to a target
(paper Table 4: sum D_i = 1.08M, max 0.19M, min 4)."""

import numpy as np

CRITEO_NUM_FIELDS = 39
CRITEO_VOCABULARY = 1_070_000


def criteo_like_field_dims(vocabulary=CRITEO_VOCABULARY, num_fields=CRITEO_NUM_FIELDS):
    """Geometrically spaced cardinalities (smallest 4) rescaled so they sum exactly to `vocabulary`."""
    if vocabulary < 4 * num_fields:
        raise ValueError(f"vocabulary {vocabulary} is too small for {num_fields} fields of at least 4 ids")
    shape = np.geomspace(1.0, 190_000 / 4, num_fields)
    dims = np.maximum(4, np.floor(shape / shape.sum() * vocabulary)).astype(int)
    dims[-1] += vocabulary - dims.sum()
    return [int(d) for d in dims]
