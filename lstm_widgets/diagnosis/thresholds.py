"""Every threshold of the diagnosis, named, with where it comes from.

Rules, lessons, panels and reports import them from here; none is typed twice. Tests
train real runs that land on either side of them with a margin, and unit-test every
rule at its thresholds' edges on synthetic records (tests/test_diagnosis_rules.py).
"""

from __future__ import annotations


#: Epochs judged: the most recent ones since the last setting change. Five is enough to
#: see a trend and short enough that a fix shows up in the diagnosis a few epochs later.
WINDOW_EPOCHS = 5
#: Epochs needed before a trend (flat, oscillating, stalled) is judged. Fewer are
#: transients: Adam's first steps, the loss falling from its initial value.
MIN_TREND_EPOCHS = 3

#: Healthy update size per gradient STEP, ||dW|| / ||W|| ~ 1e-3: the rule of thumb from
#: practice (Karpathy, CS231n notes, "Neural Networks Part 3": "the ratio of the update
#: magnitudes to the value magnitudes ... should be somewhere around 1e-3").
UPDATE_RATIO_PER_STEP = 1e-3
#: Per-step ratio (see :func:`per_step_ratio`) below which the weights are "far below" the
#: band: 10x under the rule of thumb. Because our per-step estimate is an upper bound,
#: a run flagged here moves its weights at most this much per step.
UPDATE_RATIO_LOW = 1e-4
#: Per-step ratio above which the weights are "far above" the band: 10x over the rule of
#: thumb. Since the estimate is an upper bound this alone is weak evidence (Adam at 3e-3
#: reaches it early on), so lr_too_high also needs the loss to rise or oscillate.
UPDATE_RATIO_HIGH = 1e-2

#: Relative improvement of the loss across the window under which it counts as flat
#: (2% over up to five epochs; a run that learns, even slowly, does 5-30%).
LOSS_FLAT = 0.02
#: An epoch-to-epoch loss increase larger than this (relative) counts as a step up; 2%
#: is above the epoch-to-epoch noise of the mean training loss of a steadily learning run.
LOSS_UP = 0.02
#: Steps up in the window that make the loss "oscillating" (for the validation loss also
#: as many steps down: a zigzag, not the steady rise of overfitting).
LOSS_UPS_OSCILLATING = 2
#: Relative rise of the loss across the window that makes it "rising".
LOSS_RISING = 0.10

#: Growth of the mean pre-clip gradient norm across the window (last / smallest) that
#: counts as exploding: two orders of magnitude in a few epochs is exponential growth,
#: not the usual drift (healthy runs stay within a factor ~5).
EXPLODE_GROWTH = 100.0
#: Largest pre-clip step norm over the epoch's mean norm that counts as a spike. Healthy
#: epochs show 1.2-3x; unscaled data up to ~8x; 50x means single steps far out of line.
EXPLODE_SPIKE = 50.0

#: ||dL/dx_first|| / ||dL/dx_last|| below which the gradient has vanished: float32 holds
#: ~7 significant digits (machine epsilon 1.2e-7), and the recurrent weights' gradient is
#: a SUM over time steps, so a contribution a million times smaller than the last step's
#: is rounding noise in that sum: nothing about the first steps can be learned. (A milder
#: decay, down to ~1e-4 over 40 steps, is normal for forecasting tasks that only need the
#: recent past, so the commonly quoted 1e-3 would raise false alarms there.)
VANISH_RATIO = 1e-6
#: "Dies out within a few steps": the gradient falls below VANISH_REACH_FRACTION of the
#: last step's within VANISH_FEW_STEPS steps of the end (so only the last few inputs can
#: influence learning), on sequences at least VANISH_MIN_LENGTH long.
VANISH_REACH_FRACTION = 1e-3
VANISH_FEW_STEPS = 5
VANISH_MIN_LENGTH = 20
#: Steps averaged for "the first steps" (at least one): the first 10% of the sequence.
VANISH_HEAD_FRACTION = 0.1

#: Share of steps clipped (median over the window) that counts as "nearly every step".
CLIP_MOST = 0.9
#: Mean post-clip norm at most this share of the pre-clip norm: clipping removes >= 90%
#: of the gradient, so it no longer just trims spikes (Pascanu et al. 2013 meant
#: clipping as a guard against rare explosions, not a constant brake).
CLIP_SHRINK = 0.1
#: Relative loss improvement across the window under which progress is "slow" when
#: clipping is that tight (5%: healthy runs in our scenarios do 20% and more).
CLIP_SLOW = 0.05
#: clipping_no_effect: the largest pre-clip norm stays below threshold / CLIP_FAR_ABOVE.
CLIP_FAR_ABOVE = 10.0

#: Input features whose scales (root mean square) differ by this factor or more are
#: "orders of magnitude" apart: after a single Glorot-initialised kernel, the large one
#: dominates every gate's pre-activation and the small one is invisible.
UNSCALED_SPREAD = 100.0
#: A feature whose RMS is above this is large for a recurrent cell: Keras initialises
#: kernels Glorot-uniform (|w| up to sqrt(6 / (inputs + 4 * units)), ~0.4 for 8 units), so
#: |x| ~ 10 already gives pre-activations near the saturation threshold of 3 (see
#: gate_saturation). Standardized data has RMS 1, min-max data at most 1.
UNSCALED_MAGNITUDE = 10.0
#: A regression target whose RMS is above this, left unscaled, is far from anything the
#: network outputs at first: the LSTM's states lie in (-1, 1) and Keras initialises the
#: output layer small, so the first predictions are near 0 and the mean-squared loss starts
#: near RMS^2. Same bound as UNSCALED_MAGNITUDE, for the same reason (weights of order 1).
UNSCALED_TARGET = 10.0
#: Validation mean-squared loss at least this many times that of always predicting the
#: training mean, over the whole judged window: the model is not merely slow, it is worse
#: than no model. A factor, not 1.0, because a healthy run on a hard task (the adding
#: problem) first learns the mean and sits near 1x for several epochs.
WORSE_THAN_MEAN = 2.0
#: Share of gate pre-activations beyond +-3 (sigmoid within 5% of 0 or 1, slope < 0.05;
#: lstm_widgets.engine.probes.SATURATION_THRESHOLD) above which a gate counts as saturated.
SATURATED = 0.5

#: A layer or gate moves less than this share of the fastest one (median update ratio
#: over the window): three orders of magnitude is not "slower", it is stopped.
STALL_RELATIVE = 1e-3
#: ... while the fastest one moves at least this much per epoch (so "others move").
STALL_OTHERS_MOVE = 1e-4

#: Learning-rate multipliers suggested for lr_too_low (enough to reach the per-step band,
#: 10x at least, 100x at most) and the upper bound of any suggested learning rate.
LR_RAISE_MIN, LR_RAISE_MAX, LR_MAX_SUGGESTED = 10.0, 100.0, 1.0

#: The update-ratio band drawn as "healthy" on the panels and in the report: a decade
#: either side of the per-step rule of thumb (UPDATE_RATIO_LOW .. UPDATE_RATIO_HIGH).
HEALTHY_BAND = (UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH)

__all__ = sorted(name for name in globals() if name.isupper())
