"""trainers.sweep: a tiny real sweep, its report against the per-run results, resuming, fit parity, bad flags."""

import csv
import json
import re
import shutil
import statistics
import subprocess
import sys

import pytest
from PIL import Image

from tests.test_console import FRAMEWORK_LINE, command_environment
from trainers import sweep_report
from trainers.plots import overlapping_texts, texts_cut_off


# Two backbone variants through the --models entry syntax; with more backbones registered this list
# can name them (e.g. "dnn", "dcnv2") and nothing else in the test changes.
MODELS = ["dcnv2:num_layers=1", "dcnv2:num_layers=2"]
COMMON = ["--embedding_dim=4", "--hidden_units=8,8", "--batch_size=128", "--epochs=1", "--steps_per_epoch=2",
          "--patience=1", "--verbose=0"]
CELL = re.compile(r"^(?:<u>|\*\*)?([\d.]+) ± ([\d.]+)(?:</u>|\*\*)?$")


def run_module(module, *arguments):
    return subprocess.run([sys.executable, "-m", module, *arguments], capture_output=True, text=True,
                          env=command_environment())


@pytest.fixture(scope="module")
def sweep(synthetic_criteo_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("sweep")
    arguments = [f"--data_dir={synthetic_criteo_dir}", f"--output_dir={output}", f"--models={','.join(MODELS)}",
                 "--embeddings=single,multi", "--scales=1,2", "--seeds=2", *COMMON]
    completed = run_module("trainers.sweep", *arguments)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not FRAMEWORK_LINE.search(completed.stderr), completed.stderr[-3000:]
    return output, arguments, completed.stdout


def table_rows(text, heading):
    section = text.split(heading, 1)[1].split("##", 1)[0]
    return re.findall(r"^\| (\S+) \| (SE|ME) \| (.*) \|$", section, flags=re.M)


def run_prefix(label, mode, scale):
    """Run directory prefix of one table cell; the base (scale 1) cell is the single-embedding run."""
    return f"{label.replace(':', '+')}_{'se' if mode == 'SE' or scale == 1 else 'me'}_{scale}x_"


def rebuilt_report(sweep_output, tmp_path, edit):
    """Copies the sweep's run directories, lets edit(runs_dir) change them, rebuilds the report with
    --report_only and returns (runs_dir, report text)."""
    runs = tmp_path / "sweep" / "runs"
    shutil.copytree(sweep_output / "runs", runs)
    edit(runs)
    completed = run_module("trainers.sweep", "--report_only", f"--output_dir={runs.parent}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    return runs, (runs.parent / "report.md").read_text()


def test_report_matches_run_results(sweep):
    output, _, stdout = sweep
    results = [json.loads(path.read_text()) | {"dir": path.parent.name}
               for path in sorted((output / "runs").glob("*/results.json"))]
    assert len(results) == 12  # per model: base x 2 seeds + {SE, ME} x 2x x 2 seeds
    assert "[12/12]" in stdout and "ETA" in stdout
    with open(output / "runs.csv") as handle:
        csv_rows = {row["run_dir"].split("/")[-1]: row for row in csv.DictReader(handle)}
    for result in results:
        row = csv_rows[result["dir"]]
        assert float(row["test_auc"]) == result["test_auc"] and float(row["mean_ia"]) == result["mean_ia"]
        assert int(row["seed"]) == result["seed"] and row["embedding"] == result["embedding"]

    text = (output / "report.md").read_text()
    for heading, metric, digits in (("## Test AUC", "test_auc", 5), ("## Mean information", "mean_ia", 2)):
        rows = table_rows(text, heading)
        assert [(label, mode) for label, mode, _ in rows] == [(m, mode) for m in MODELS for mode in ("SE", "ME")]
        for label, mode, cells in rows:
            cells = cells.split(" | ")
            for scale, cell in zip((1, 2), cells):
                values = [r[metric] for r in results if r["dir"].startswith(run_prefix(label, mode, scale))]
                assert len(values) == 2
                mean, std = map(float, CELL.match(cell).groups())
                assert mean == pytest.approx(statistics.fmean(values), abs=0.6 * 10 ** -digits)
                assert std == pytest.approx(statistics.stdev(values), abs=0.6 * 10 ** -digits)
            if metric == "test_auc":  # exactly one best cell marked per row
                assert sum(cell.startswith("<u>" if mode == "SE" else "**") for cell in cells) == 1
    for plot in ("auc_vs_scale.png", "ia_vs_scale.png"):
        assert (output / plot).stat().st_size > 0


def test_rerun_skips_finished_runs_and_report_only_rebuilds(sweep):
    output, arguments, _ = sweep
    mtimes = {path: path.stat().st_mtime_ns for path in (output / "runs").glob("*/results.json")}
    completed = run_module("trainers.sweep", *arguments, "--shard_index=1", "--num_shards=2")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "6 runs, 6 already finished, 0 to train" in completed.stdout
    assert {path: path.stat().st_mtime_ns for path in mtimes} == mtimes

    report = (output / "report.md").read_text()
    (output / "report.md").unlink()
    (output / "runs.csv").unlink()
    completed = run_module("trainers.sweep", "--report_only", f"--output_dir={output}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (output / "report.md").read_text() == report and (output / "runs.csv").exists()


def test_sweep_run_equals_fit_cli_run(sweep, tmp_path):
    output, arguments, _ = sweep
    shared = [a for a in arguments if not a.startswith(("--output_dir", "--models", "--embeddings", "--scales",
                                                        "--seeds"))]
    completed = run_module("trainers.fit", *shared, f"--output_dir={tmp_path}", "--model=dcnv2",
                           "--interaction_arg=num_layers=2", "--embedding=multi", "--scale=2", "--seed=1")
    assert completed.returncode == 0, completed.stderr[-3000:]
    sweep_run = output / "runs" / "dcnv2+num_layers=2_me_2x_seed1"

    def flag_lines(run_dir):
        return [line for line in (run_dir / "flags.txt").read_text().splitlines() if "output_dir" not in line]

    assert flag_lines(sweep_run) == flag_lines(tmp_path)
    fit_results, sweep_results = (json.loads((d / "results.json").read_text()) for d in (tmp_path, sweep_run))
    for key in ("params_total", "params_embedding", "num_sets", "embedding_dim"):
        assert fit_results[key] == sweep_results[key], key


def test_report_flags_runs_stopped_by_the_epoch_cap(sweep, tmp_path):
    """Every tiny run trains one epoch (best = last); one run is edited to have trained past its best."""
    def train_one_run_past_its_best(runs):
        edited = sorted(runs.glob("*/results.json"))[0]
        edited.write_text(json.dumps(json.loads(edited.read_text()) | {"best_epoch": 3, "epochs": 6}))

    runs, text = rebuilt_report(sweep[0], tmp_path, train_one_run_past_its_best)
    results = [json.loads(path.read_text()) for path in runs.glob("*/results.json")]
    capped = sum(result["best_epoch"] == result["epochs"] for result in results)
    assert capped == len(results) - 1
    assert f"**{capped} of {len(results)} runs had their best validation AUC at their last epoch**" in text
    means = sorted(float(CELL.match(cell).group(1)) for _, _, row in table_rows(text, "## Best epoch")
                   for cell in row.split(" | "))
    assert means[0] == 1.0 and means[-1] == (3 + 1) / 2  # the edited run's cell: its seeds' mean


@pytest.mark.parametrize("flag, message", [
    ("--models=dcnv2,nosuchmodel", "unknown model 'nosuchmodel'"),
    ("--scales=1,two", "--scales='1,two' must be a comma-separated list"),
    ("--scales=0,2", "--scales='0,2' must be a comma-separated list"),
    ("--embeddings=single,wide", "--embeddings='single,wide'"),
    ("--model=dcnv2", "--model is set per run"),
])
def test_bad_flags_fail_before_any_work(synthetic_criteo_dir, tmp_path, flag, message):
    completed = run_module("trainers.sweep", f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}", flag)
    assert completed.returncode != 0
    assert message in completed.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "runs").exists()


def test_report_marks_cells_with_fewer_seeds(sweep, tmp_path):
    """A cell left with one seed shows that run's value alone, without a std, and its seed count."""
    prefix = run_prefix(MODELS[0], "ME", 2)

    def remove_one_seed_of_the_cell(runs):
        shutil.rmtree(sorted(path for path in runs.iterdir() if path.name.startswith(prefix))[0])

    runs, text = rebuilt_report(sweep[0], tmp_path, remove_one_seed_of_the_cell)
    (kept,) = [path for path in runs.iterdir() if path.name.startswith(prefix)]
    assert "seeds per cell: 1, 2" in text
    cells = {(label, mode): row.split(" | ") for label, mode, row in table_rows(text, "## Test AUC")}
    auc = json.loads((kept / "results.json").read_text())["test_auc"]
    value = re.fullmatch(r"(?:\*\*)?([\d.]+)(?:\*\*)? \(n=1\)", cells[MODELS[0], "ME"][1])
    assert value and float(value.group(1)) == pytest.approx(auc, abs=6e-6)
    assert all(CELL.match(cell) for row in cells.values() for cell in row if cell != cells[MODELS[0], "ME"][1])


def test_report_lists_only_the_modes_a_model_was_swept_in(sweep, tmp_path):
    """A model whose ME runs are gone (as after --embeddings=single) gets an SE row only, base included;
    the other model keeps both rows."""
    def remove_the_multi_embedding_runs_of_one_model(runs):
        for path in runs.iterdir():
            if path.name.startswith(run_prefix(MODELS[1], "ME", 2)):
                shutil.rmtree(path)

    runs, text = rebuilt_report(sweep[0], tmp_path, remove_the_multi_embedding_runs_of_one_model)
    tables = {heading: {(label, mode): row.split(" | ") for label, mode, row in table_rows(text, heading)}
              for heading in ("## Test AUC", "## Mean information abundance", "## Best epoch")}
    for rows in tables.values():
        assert set(rows) == {(MODELS[0], "SE"), (MODELS[0], "ME"), (MODELS[1], "SE")}
        assert all(cell for row in rows.values() for cell in row)
    base_auc = statistics.fmean(json.loads(path.read_text())["test_auc"]
                                for path in runs.glob(run_prefix(MODELS[1], "SE", 1) + "*/results.json"))
    base_cell = CELL.match(tables["## Test AUC"][MODELS[1], "SE"][0])
    assert float(base_cell.group(1)) == pytest.approx(base_auc, abs=6e-6)


def test_report_figures_draw_the_report_numbers(sweep, tmp_path):
    """Redrawn from the run directories, each figure is the CLI's PNG, says what it shows, is readable, and
    its points are the report's cell means (scale 1: the shared base)."""
    output = sweep[0]
    rows = sweep_report.collect_runs(str(output))
    caption = sweep_report.study_caption(str(output), rows[0]["run_dir"], len(rows))
    assert caption == "criteo data, 12 runs, each at its best-validation epoch; mean ± one std over seeds"
    for metric, ylabel, name, title in (("test_auc", "test AUC", "auc_vs_scale.png", "Test AUC vs scale"),
                                        ("mean_ia", "mean IA over fields (max = s x K0)", "ia_vs_scale.png",
                                         "Mean information abundance vs scale")):
        summary = sweep_report.summarize(rows, metric)
        figure = sweep_report.plot_metric(summary, ylabel, str(tmp_path / name), f"{title}: {caption}")
        assert (tmp_path / name).read_bytes() == (output / name).read_bytes(), name
        with Image.open(output / name) as image:
            assert image.format == "PNG" and image.size == (round(4.8 * len(MODELS) * 110), 440)
        assert overlapping_texts(figure) == [] and texts_cut_off(figure) == [], name
        for axis, label in zip(figure.axes, MODELS):
            assert axis.get_title() == label and axis.get_xlabel() and axis.get_ylabel() == ylabel
            drawn = {container.get_label(): container.lines[0].get_ydata().tolist() for container in axis.containers}
            assert drawn == {mode: [summary[label, embedding, scale][0] for scale in (1, 2)]
                             for mode, embedding in sweep_report.MODES}
