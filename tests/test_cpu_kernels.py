"""The training commands load TensorFlow with its oneDNN CPU kernels unless the user says otherwise."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = ("import trainers, tensorflow\n"
         "from tensorflow.python.util import _pywrap_util_port\n"
         "print(_pywrap_util_port.IsMklEnabled())")


def onednn_enabled(setting):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                            check=True)
    return result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("setting, expected", [(None, True), ("0", False), ("1", True)])
def test_trainers_turn_onednn_on_unless_the_user_set_it(setting, expected):
    # Plain TensorFlow leaves oneDNN off on this machine's AMD CPU, so the first case needs trainers.
    assert onednn_enabled(setting) is expected

