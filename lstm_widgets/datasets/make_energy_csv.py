"""Make energy.csv, the small CSV of lesson 5 (notebooks/05_your_own_data.ipynb).

Thirty days of hourly readings from a made-up office building: the outdoor temperature
in °C, the people in the building, and the electric load in kW (a base load, about 6 kW
per person, cooling above 18 °C, noise). The columns sit on very different scales, as
real data does, and the first column is a text timestamp, which has to be dropped or
parsed before windowing. Deterministic: run it again and the file is byte-identical.

Run: ``python lstm_widgets/datasets/make_energy_csv.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HOURS = 24 * 30
SEED = 7


def make_energy(hours: int = HOURS, seed: int = SEED) -> pd.DataFrame:
    """The energy table: timestamp, temperature_c, occupancy, load_kw."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    hour, day = t % 24, t // 24
    weekday = (day % 7) < 5
    # Weather: a slow warm spell plus a daily cycle peaking mid-afternoon, with noise that
    # wanders (an AR(1) process) like real weather.
    wander = np.zeros(hours)
    for i in range(1, hours):
        wander[i] = 0.97 * wander[i - 1] + rng.normal(0, 0.5)
    temperature = 17 + 4 * np.sin(2 * np.pi * t / (24 * 12)) + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + wander
    # People: office hours on weekdays, a few on weekends, none at night.
    office = ((hour >= 8) & (hour < 18)).astype(float)
    ramp = np.clip(1 - np.abs(hour - 12.5) / 6, 0, 1)
    occupancy = np.where(weekday, 60 + 120 * ramp, 8 * ramp) * office
    occupancy = np.maximum(0, np.round(occupancy + rng.normal(0, 6, hours) * office))
    cooling = 35 * np.maximum(temperature - 18, 0)
    load = 380 + 6 * occupancy + cooling + rng.normal(0, 20, hours)
    stamps = pd.date_range("2024-06-03", periods=hours, freq="h").strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({
        "timestamp": stamps,
        "temperature_c": np.round(temperature, 2),
        "occupancy": occupancy.astype(int),
        "load_kw": np.round(load, 1),
    })


if __name__ == "__main__":
    out = Path(__file__).with_name("energy.csv")
    make_energy().to_csv(out, index=False)
    print(f"wrote {out} ({HOURS} rows)")
