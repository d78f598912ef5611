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
#: The update each step applied (measured in the train step, the mean over the epoch's
#: steps) below which the weights are "far below" the band: 10x under the rule of thumb.
UPDATE_RATIO_LOW = 1e-4
#: Per-step update above which the weights are "far above" the band: 10x over the rule
#: of thumb. Large steps alone are no problem while the loss falls, so lr_too_high also
#: needs the loss to zigzag or rise without progress.
UPDATE_RATIO_HIGH = 1e-2

#: A single step that moves the weights by this share of their size (||ΔW|| / ||W|| over
#: all weights) is far too large: 100x the rule of thumb. Such steps rewrite the network
#: at once, inflate the weights and saturate the gates, and the damage stays after the
#: steps shrink again. Healthy runs of the evaluation corpus stay under 0.03 per step
#: (Adam 3e-3: 0.017 in the first epoch); Adam and RMSprop at 0.3 take steps of 0.8-0.96.
STEP_TOO_LARGE = 0.1
#: The largest step a restart after a blow-up may allow with SGD: with clipping at norm c
#: a step moves each variable by at most the learning rate times c (times 1/(1 - momentum)
#: once momentum builds up), so the patch picks a learning rate whose largest possible
#: step is this share of the weights' size as recorded before they blew up: half of
#: STEP_TOO_LARGE, so the restarted run cannot take the steps lr_too_high reports.
STEP_SAFE = 0.05

#: A median update per step below this (half the rule of thumb) is "below the band"; with
#: a loss that does not even halve over the window and a model far from converged, the
#: steps are too small to get there in a reasonable number of epochs. (The evaluation
#: corpus: SGD at 1e-3 steps 1e-4 to 4e-4, Adam at 1e-5 4e-5; healthy recipes 1.4e-3 and up.)
UPDATE_RATIO_SLOW = 5e-4
#: The share by which the loss must fall over the window for a run with small steps not to
#: count as slow: halving it.
LOSS_SLOW = 0.5
#: The gradient at the first time step under this share of the last step's, in a model
#: that has not learned (NOT_LEARNING_SHARE): the early inputs cannot teach it anything
#: within the epochs it has had, whatever the float32 resolution.
VANISH_RATIO_NOT_LEARNING = 1e-3

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
#: The largest epoch-to-epoch rise of the loss (relative) that makes a zigzag a bounce:
#: steps that overshoot throw the loss up by a fifth and more, while a converged run
#: with small noisy batches jitters by a few percent.
LOSS_BOUNCE = 0.20

#: Growth of the mean pre-clip gradient norm across the window (last / smallest) that
#: counts as exploding: two orders of magnitude in a few epochs is exponential growth,
#: not the usual drift (healthy runs stay within a factor ~5).
EXPLODE_GROWTH = 100.0
#: A step's pre-clip norm this many times the typical (median) mean norm of the judged
#: epochs counts as a spike. Healthy runs show 1.2-3x, unscaled data up to ~8x; 50x is a
#: step far out of line. Compared across epochs, not with the step's own epoch's mean:
#: with S steps an epoch, max / mean can never exceed S, so a per-epoch ratio of 50 could
#: not fire at all with 50 steps or fewer.
EXPLODE_SPIKE = 50.0
#: Epochs with a spike that make "exploding" (one can be a lone outlier batch).
EXPLODE_SPIKES = 2

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
#: clipping is that tight (5%: healthy runs of the evaluation corpus do 20% and more).
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
#: "Not learning": the best judged loss of the window is still above this share of the
#: loss of no learning (always predicting the training mean): within 5% of it, or worse.
#: The same margin labels the evaluation corpus's runs by their outcome.
NOT_LEARNING_SHARE = 0.95
#: Epochs a run gets before "not learning" is said of it: a hard task first learns the
#: mean and sits there for a few epochs (the adding problem), so the first five are
#: left to that.
NOT_LEARNING_EPOCHS = 5
#: A judged loss at least this many times the mean baseline: not just "not learning",
#: worse than no model at all.
WORSE_THAN_MEAN = 2.0
#: Behind persistence: for a windowed series, a best judged loss above this share of the
#: loss of repeating the target's last value, while the mean is beaten.
BEHIND_PERSISTENCE_SHARE = 0.95
#: A run whose judged loss is below this share of the mean baseline has learned most of
#: what there is (if it is not behind persistence too): a flat loss there is convergence,
#: not a learning rate too low.
CONVERGED_SHARE = 0.5
#: "The learning rate was decayed": the rate in force is at most this share of the one
#: the run started with (a schedule, ReduceLROnPlateau, or a change in the Lab).
LR_DECAYED_SHARE = 0.5
#: Share of gate pre-activations beyond +-3 (sigmoid within 5% of 0 or 1, slope < 0.05;
#: lstm_widgets.engine.probes.SATURATION_THRESHOLD) above which a gate counts as saturated.
SATURATED = 0.5

#: A layer or gate moves less than this share of the fastest one (median update ratio
#: over the window): three orders of magnitude is not "slower", it is stopped.
STALL_RELATIVE = 1e-3
#: ... while the fastest one moves at least this much per epoch (so "others move").
STALL_OTHERS_MOVE = 1e-4

#: Learning-rate multipliers suggested for lr_too_low (enough to reach the per-step band,
#: 10x at least, 100x at most).
LR_RAISE_MIN, LR_RAISE_MAX = 10.0, 100.0
#: The largest learning rate a patch ever suggests, per optimizer: ten times the usual
#: start (config.TYPICAL_LR), below the rates the lessons show blowing up (SGD at 1.0 on
#: the adding problem, Adam at 0.3). With SGD momentum beta the step grows up to
#: 1 / (1 - beta) times, so the bound is divided by that.
LR_MAX_FACTOR = 10.0

#: The update-ratio band drawn as "healthy" on the panels and in the report: a decade
#: either side of the per-step rule of thumb (UPDATE_RATIO_LOW .. UPDATE_RATIO_HIGH).
HEALTHY_BAND = (UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH)
#: A run "trains" when its best validation loss is below this share of the loss of always
#: predicting the training mean (and it neither diverged nor failed): the stability maps of
#: lessons 2 and 6 and the learning-rate exercise use it. "Not learning" is within 5% of
#: that baseline (share >= 0.95); half of it is a run that has clearly learned something,
#: without asking every task to reach the same depth.
TRAINS_SHARE = 0.5

__all__ = sorted(name for name in globals() if name.isupper())
