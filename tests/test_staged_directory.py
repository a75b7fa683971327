"""export.staged_directory: a directory appears complete or not at all."""

import os

import pytest

from export.staged_directory import staged_directory


def test_the_target_appears_only_when_the_block_completes(tmp_path):
    target = tmp_path / "model" / "7"
    with staged_directory(str(target)) as staging:
        (tmp_path / "model" / os.path.basename(staging) / "saved_model.pb").write_text("graph")
        assert not target.exists() and os.path.basename(staging).startswith(".7.partial-")
    assert os.listdir(tmp_path / "model") == ["7"] and (target / "saved_model.pb").read_text() == "graph"


def test_an_empty_target_directory_is_replaced(tmp_path):
    (tmp_path / "1").mkdir()
    with staged_directory(str(tmp_path / "1")) as staging:
        open(os.path.join(staging, "variables"), "w").close()
    assert os.listdir(tmp_path) == ["1"] and os.listdir(tmp_path / "1") == ["variables"]


def test_a_failure_inside_the_block_leaves_nothing(tmp_path):
    with pytest.raises(OSError, match="disk full"):
        with staged_directory(str(tmp_path / "1")) as staging:
            open(os.path.join(staging, "saved_model.pb"), "w").close()
            raise OSError("disk full")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("existing", ["directory", "file"])
def test_an_occupied_target_is_refused_before_anything_is_written(tmp_path, existing):
    target = tmp_path / "1"
    if existing == "directory":
        target.mkdir()
        (target / "saved_model.pb").write_text("an older export")
    else:
        target.write_text("not a directory")
    with pytest.raises(FileExistsError, match=f"^{target} already exists; choose a new version directory$"):
        with staged_directory(str(target)):
            pytest.fail("the block ran")
    assert os.listdir(tmp_path) == ["1"]
