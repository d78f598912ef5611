import os
import sys
from pathlib import Path

import pytest

# TensorFlow's C++ logging must be quietened before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tests/ holds the browser-test helpers (browser.py) and support/; make them importable.
sys.path.insert(0, str(Path(__file__).parent))

# Shared fixtures. Module-scoped: each test module that asks gets its own, built once.


@pytest.fixture(scope="module")
def recorder():
    """Widgets made in the module get a recording comm (no front end); use with
    ``pytestmark = pytest.mark.usefixtures("recorder")``."""
    from support.comm import record_comms

    with record_comms() as rec:
        yield rec


@pytest.fixture(scope="module")
def sine():
    """The engine tests' data: 160 sine sequences of 8 steps."""
    from lstm_widgets import load_dataset

    return load_dataset("sine", n_samples=160, seq_len=8, seed=1)


@pytest.fixture(scope="module")
def tiny():
    """The UI tests' data: 128 sine sequences of 10 steps."""
    from lstm_widgets import load_dataset

    return load_dataset("sine", n_samples=128, seq_len=10)


@pytest.fixture(scope="module")
def trained(tiny, recorder):
    """A Lab on ``tiny`` trained for 3 epochs."""
    from support.runs import make_lab

    lab = make_lab(tiny)
    lab.train(wait=True, timeout=120)
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def adding20():
    from lstm_widgets import load_dataset

    return load_dataset("adding", n_samples=256, seq_len=20)


@pytest.fixture(scope="module")
def data():
    """The watch() tests' (X, y)."""
    from support.runs import user_data

    return user_data()
