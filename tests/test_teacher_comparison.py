"""bench.teacher_comparison: its data is the main job's for the default teacher; its table pairs seeds; its figure."""

import json

import numpy as np
import pytest

from bench import teacher_comparison
from datasets import synthetic
from trainers import quickstart


def shard_bytes(data_dir, schema):
    return {name: (data_dir / name).read_bytes() for names in schema["shards"].values() for name in names}


def test_default_teacher_data_is_the_main_jobs(tmp_path):
    """Same rows, seed, field sizes, min-count and split as trainers.quickstart.prepare_data: the same shards."""
    _, main_dir = quickstart.prepare_data(str(tmp_path / "main"), 3000, 1, quickstart.DATA_TEACHER)
    schema = synthetic.write_tfrecord_dir(str(tmp_path / "bench"), 3000, 1, teacher_comparison.MAX_CARDINALITY,
                                          teacher_comparison.MIN_COUNT, split_seed=teacher_comparison.SPLIT_SEED)
    main_schema = json.loads((tmp_path / "main" / "data" / "schema.json").read_text())
    assert schema["rows"] == main_schema["rows"] and schema["fields"] == main_schema["fields"]
    assert shard_bytes(tmp_path / "bench", schema) == shard_bytes(tmp_path / "main" / "data", main_schema)
    assert schema["source"]["teacher"]["name"] == "separate_subspaces"


def record(name, seed, aucs, ia=(1.0, 2.0, 3.0)):
    labels = {"base": "dnn base", "SE": "dnn SE 10x", "ME": "dnn ME 10x"}
    return {"teacher": {"name": name}, "seed": seed, "rows": 200000, "labels": labels,
            "results": {mode: {"test_auc": auc, "mean_ia": value, "seed": seed}
                        for mode, auc, value in zip(labels, aucs, ia)}}


@pytest.fixture
def workdir(tmp_path):
    """random_fm seeds 1 and 0 (written out of order) and shared_subspace seed 0, as run_comparison writes them."""
    for directory, content in (("random_fm_seed1", record("random_fm", 1, (0.70, 0.71, 0.74))),
                               ("random_fm_seed0", record("random_fm", 0, (0.70, 0.72, 0.73))),
                               ("shared_subspace_seed0", record("shared_subspace", 0, (0.80, 0.81, 0.80)))):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / teacher_comparison.RESULT_FILE).write_text(json.dumps(content))
    return tmp_path


def test_table_pairs_each_seeds_models(workdir):
    records = teacher_comparison.load_records(str(workdir))
    assert list(records) == ["shared_subspace", "random_fm"] and [r["seed"] for r in records["random_fm"]] == [0, 1]
    lines = teacher_comparison.report_table(records).splitlines()
    assert lines[0].startswith("| teacher | seeds | dnn base AUC | dnn SE 10x AUC | dnn ME 10x AUC | ME - SE |")
    # random_fm: ME - SE is +0.01 and +0.03 by seed (mean 0.02, sample std 0.01414); SE - base +0.02 and +0.01
    assert lines[3] == ("| random_fm | 0,1 | 0.70000 ± 0.00000 | 0.71500 ± 0.00707 | 0.73500 ± 0.00707 | "
                        "+0.02000 ± 0.01414 | +0.01500 ± 0.00707 | 1.00 ± 0.00 | 2.00 ± 0.00 | 3.00 ± 0.00 |")
    assert lines[2] == ("| shared_subspace | 0 | 0.80000 | 0.81000 | 0.80000 | -0.01000 | +0.01000 | "
                        "1.00 | 2.00 | 3.00 |")


def test_main_job_json_adds_the_default_teacher_first(workdir, tmp_path_factory):
    main = tmp_path_factory.mktemp("main") / "quickstart.json"
    results = {label: {"test_auc": auc, "mean_ia": 5.0, "seed": 2}
               for label, auc in (("dnn base", 0.79), ("dnn SE 10x", 0.78), ("dnn ME 10x", 0.81))}
    main.write_text(json.dumps({"results": results, "reading": "..."}))
    records = teacher_comparison.load_records(str(workdir), [str(main)])
    assert list(records) == ["separate_subspaces", "shared_subspace", "random_fm"]
    assert teacher_comparison.paired_differences(records["separate_subspaces"], "ME", "SE") == pytest.approx([0.03])


def test_figure_has_a_bar_per_teacher_and_mode_and_a_line_per_seed(workdir):
    from trainers.plots import texts_cut_off

    records = teacher_comparison.load_records(str(workdir))
    path = workdir / "figure.png"
    figure = teacher_comparison.plot_teachers(records, str(path), teacher_comparison.figure_title(records))
    axis = figure.axes[0]
    assert len(axis.patches) == 3 * 2 and path.stat().st_size > 0
    seeds = [line for line in axis.lines if line.get_marker() == "."]  # the error bars' caps are lines too
    np.testing.assert_allclose(sorted(tuple(line.get_ydata()) for line in seeds),
                               [(0.70, 0.71, 0.74), (0.70, 0.72, 0.73), (0.80, 0.81, 0.80)])
    # each seed's line stays within its teacher's group of bars: shared_subspace at x = 0, random_fm at x = 1
    assert sorted(round(float(np.mean(line.get_xdata()))) for line in seeds) == [0, 1, 1]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == ["shared_subspace\n(1 seeds)",
                                                                    "random_fm\n(2 seeds)"]
    assert sorted(text.get_text() for text in axis.get_legend().get_texts()) == ["dnn ME 10x", "dnn SE 10x",
                                                                                 "dnn base", "one seed"]
    assert texts_cut_off(figure) == []


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no comparison.json under"):
        teacher_comparison.load_records(str(tmp_path))
