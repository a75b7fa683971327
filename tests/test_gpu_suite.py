"""bench.gpu_suite's report: every measured step as a table, seeds of the early-stopping runs as mean ± std."""

import statistics

from bench.gpu_suite import report


def test_report_tables_the_steps_measured_so_far():
    runs = [{"model": "dcnv2", "embedding": embedding, "scale": scale, "seed": seed, "test_auc": auc}
            for (embedding, scale, seed, auc) in [("single", 1, 0, 0.801), ("single", 1, 1, 0.803),
                                                  ("single", 10, 0, 0.799), ("single", 10, 1, 0.797),
                                                  ("multi", 10, 0, 0.811)]]
    results = {"devices": ["cuda:0"], "elapsed_seconds": 12.5, "steps": {
        "zoo": [{"model": "dnn", "embedding": "multi", "scale": 10, "examples_per_sec": 123456.7},
                {"model": "ffm", "embedding": "single", "scale": 10, "skipped": "too large"}],
        "early_stopping": runs}}
    text = report(results)
    assert "| dnn | multi | 10x | 123,457 |" in text and "| ffm | single | 10x | skipped |" in text
    base = f"{statistics.mean([0.801, 0.803]):.5f} ± {statistics.stdev([0.801, 0.803]):.5f}"
    se10 = f"{statistics.mean([0.799, 0.797]):.5f} ± {statistics.stdev([0.799, 0.797]):.5f}"
    assert f"| dcnv2 | SE | <u>{base}</u> | {se10} |" in text
    assert "| dcnv2 | ME |" in text and "0.81100 (n=1)" in text
    assert "Through trainers.fit" not in text  # a step not measured yet has no section
