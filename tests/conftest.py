import os
import sys
from pathlib import Path

# TensorFlow's C++ logging must be quietened before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tests/ holds the browser-test helpers (browser.py); make them importable.
sys.path.insert(0, str(Path(__file__).parent))
