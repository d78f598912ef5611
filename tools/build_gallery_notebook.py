"""Write notebooks/gallery_diagnose_this_run.ipynb, the "diagnose this run" gallery, with
nbformat: saved clean (no outputs), the python3 kernelspec, stable cell ids, and the cells
whose only work is a say(...) paragraph collapsed by the very rule tests/test_notebooks.py
checks (``_narrates``).

The saved runs it reads are made by lstm_widgets/datasets/make_gallery.py.

Run: ``.venv/bin/python tools/build_gallery_notebook.py``
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks" / "gallery_diagnose_this_run.ipynb"
sys.path.insert(0, str(ROOT / "tests"))
from test_notebooks import KERNELSPEC, _narrates  # noqa: E402  (the tested rule, not a copy)

#: The first markdown cell's last paragraph of lesson 1, word for word (a saved notebook's widgets).
_MODEL_NOT_FOUND = nbformat.read(ROOT / "notebooks" / "01_exploding_gradients_and_clipping.ipynb",
                                 as_version=4).cells[0].source.strip().split("\n\n")[-1]

CELLS: list[tuple[str, str]] = []  # (kind, source); kind "md", "code" or "say" (a narrating code cell)


def md(text: str) -> None:
    CELLS.append(("md", text.strip("\n")))


def code(text: str) -> None:
    CELLS.append(("code", text.strip("\n")))


def say(text: str) -> None:
    CELLS.append(("say", text.strip("\n")))


# -- the notebook ---------------------------------------------------------------------------

md(f"""
# Gallery — Diagnose this run

**What this is.** Not a lesson: a few saved training runs where a diagnosis rule misfires,
or where its finding is right but needs confirming before you act on it. A finding is a
hypothesis read from a handful of numbers; each one predicts something a run can test.
For every case: the run as it was saved, today's diagnosis of it, a prediction for you to
make, the confirmation run a practitioner would make, and a verdict worded from what that
run did.

*Well under a minute on two CPU cores. Run the cells from top to bottom. The saved runs
ship with the package (`lstm_widgets/datasets/gallery`, made by `make_gallery.py` there);
their data is rebuilt here from the built-in datasets with the same options. Every number
in the text below the code is computed by the cells, from the saved runs and from the runs
you make here, so your numbers may differ slightly from a neighbour's on another machine.*

{_MODEL_NOT_FOUND}
""")

code('''
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's C++ start-up lines

import json
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import lstm_widgets
from lstm_widgets import History, SequenceData, TrainConfig, Trainer, first_checks, load_dataset, lr_range_test
from lstm_widgets.diagnosis import diagnose
from lstm_widgets.diagnosis.thresholds import UPDATE_RATIO_LOW
from lstm_widgets.engine.first_checks import OVERFIT_SHARE
from lstm_widgets.lessons import findings_markdown, predict
from lstm_widgets.ui.compare import compare_runs
from lstm_widgets.ui.range_view import range_test_figure

pd.set_option("display.float_format", "{:.4g}".format)  # 4 significant digits in every table
facts = {}  # what the text below says, as numbers; the test suite checks them on your runs

#: The saved runs and, in cases.json, the options each was made with.
GALLERY = Path(lstm_widgets.__file__).parent / "datasets" / "gallery"
CASES = json.loads((GALLERY / "cases.json").read_text(encoding="utf-8"))


def say(text):
    """Show a paragraph built from the numbers of the runs above."""
    display(Markdown(text))


def load_case(name):
    """A saved case: its options, its History read back, its data rebuilt with the same
    load_dataset options, and the TrainConfig it was trained with."""
    case = CASES[name]
    history = History.from_json(GALLERY / f"{name}.json")
    return case, history, load_dataset(**case["dataset"]), TrainConfig(**case["config"])


def train(config, data):
    """One run, trained headless to the end (a Trainer: the engine inside the Lab)."""
    trainer = Trainer(config, data)
    trainer.start()
    trainer.wait()
    trainer.close()  # its compiled steps go back to a pool that the next run of this shape reuses
    return trainer


def best_val(records):
    """The best validation loss of a run's epochs."""
    return min(r.val_loss for r in records if r.val_loss is not None and np.isfinite(r.val_loss))


def recipe(case):
    """The saved run's settings in words."""
    c, d = case["config"], case["dataset"]
    opt = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "nadam": "Nadam"}[c["optimizer"]]
    if c.get("momentum"):
        opt += f" with momentum {c['momentum']:g}"
    return (f"a {c['units']}-unit LSTM trained with {opt} at learning rate {c['learning_rate']:g} for "
            f"{c['epochs']} epochs (batches of {c['batch_size']}, seed {c['seed']}) on `{d['name']}`, "
            f"{d['n_samples']} sequences of {d['seq_len']} steps")


def x(ratio):
    """A ratio in words a reader can take in: 24,600x, 3.51x, 0.012x."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x" if ratio >= 0.01 else f"{ratio:.2g}x"
''')

# -- case 1 ---------------------------------------------------------------------------------

md("""
## 1. A healthy run flagged "learning rate too high"

The diagnosis is evaluated on a corpus of real runs (`tests/support/corpus.py`), each
labelled by its outcome. One of its healthy recipes is SGD with momentum on the `sine`
forecasting task, trained at several seeds; at one seed the diagnosis calls the learning
rate too high. The saved run is that one, with the corpus's data and model settings.
""")

code('''
case1, saved1, data1, config1 = load_case("lr_too_high_false_alarm")
findings1 = diagnose(saved1, data1)  # today's rules on the saved numbers
flagged1 = next(f for f in findings1 if f.code == case1["finding"])
epochs1 = saved1.run()
last1 = epochs1[-1]
best1 = best_val(epochs1)
at1 = min(epochs1, key=lambda r: r.val_loss).epoch
facts.update(lr_codes=[f.code for f in findings1], lr_saved_best=best1,
             lr_saved_vs_mean=best1 / last1.baseline_loss, lr_saved_vs_persistence=best1 / last1.persistence_loss)
say(f"The saved run: {recipe(case1)}. Its best validation loss was **{best1:.3g}**, in epoch {at1}: "
    f"{x(best1 / last1.baseline_loss)} the loss of always predicting the mean ({last1.baseline_loss:.3g}) and "
    f"{x(best1 / last1.persistence_loss)} that of repeating the last value ({last1.persistence_loss:.3g}). "
    f"Validation loss epoch by epoch: " + ", ".join(f"{r.val_loss:.3g}" for r in epochs1) + ".\\n\\n"
    f"Today's diagnosis of it:")
display(Markdown(findings_markdown(findings1)))
''')

md("""
The rule read the last epochs: the losses went up and down instead of making new bests, and
each step moved the weights by more than the rule of thumb. A learning rate too high does
that. So does the noise of a short run on small batches. The finding makes a prediction you
can test, and its patch is the test: **the same run at the lower rate, for the same number
of epochs, should reach a lower validation loss.** Two more checks come cheap: the same
recipe at other seeds (is the flagged run typical of it?), and a range test.
""")

code('''
patch1 = flagged1.patch  # the finding's suggested change
patch_guess = predict(f"Trained for the same {config1.epochs} epochs, will the suggested learning rate "
                      f"{patch1['learning_rate']:g} reach a lower best validation loss than {config1.learning_rate:g}?",
                      ["lower with the patch", "no lower"])
patch_guess
''')

code('''
side_by_side = {
    f"learning rate {config1.learning_rate:g}, as saved": train(config1, data1),
    f"learning rate {patch1['learning_rate']:g}, the patch": train(config1.replace(**patch1), data1),
}
other_seeds = {s: train(config1.replace(seed=s), data1) for s in (0, 1, 2, 3) if s != config1.seed}
runs1 = {name: t.history.run() for name, t in side_by_side.items()}
seed_runs1 = {s: t.history.run() for s, t in other_seeds.items()}
rows = [{"run": name, "best val loss": best_val(recs), "last val loss": recs[-1].val_loss,
         "diagnosis": ", ".join(f.code for f in diagnose(t.history, data1))}
        for (name, recs), t in zip(runs1.items(), side_by_side.values())]
rows += [{"run": f"learning rate {config1.learning_rate:g}, seed {s}", "best val loss": best_val(recs),
          "last val loss": recs[-1].val_loss, "diagnosis": ", ".join(f.code for f in diagnose(t.history, data1))}
         for (s, recs), t in zip(seed_runs1.items(), other_seeds.values())]
table1 = pd.DataFrame(rows).set_index("run")
display(table1)
compare_runs(runs1, field="val_loss", title="Validation loss: the saved recipe and the finding's patch")
''')

say('''
as_saved, patched = runs1.values()
best_saved, best_patched = best_val(as_saved), best_val(patched)
helped = best_patched < best_saved
drift = max(abs(a.val_loss - b.val_loss) / b.val_loss for a, b in zip(as_saved, epochs1))
seed_flags = [s for s in other_seeds if case1["finding"] in table1.loc[f"learning rate {config1.learning_rate:g}, seed {s}", "diagnosis"]]
seed_bests = [best_val(recs) for recs in seed_runs1.values()]
facts.update(lr_patch_rate=patch1["learning_rate"], lr_original_best=best_saved, lr_patched_best=best_patched,
             lr_patch_helped=helped, lr_retrain_drift=drift, lr_other_seeds=len(other_seeds),
             lr_seeds_flagged=len(seed_flags), lr_seed_bests=seed_bests)
again = ("came out as saved (every validation loss within 0.1%)" if drift < 1e-3 else
         f"came out close to the saved run (validation losses within {drift:.1%})" if drift < 0.05 else
         f"came out differently on this machine (validation losses up to {drift:.0%} apart; the numbers here "
         f"are this machine's)")
if helped:
    result = (f"The patch **helped**: its best validation loss was **{best_patched:.3g}**, against **{best_saved:.3g}** "
              f"at {config1.learning_rate:g}, {x(best_saved / best_patched)} lower.")
else:
    result = (f"The patch **did not help**: its best validation loss was **{best_patched:.3g}**, against "
              f"**{best_saved:.3g}** at {config1.learning_rate:g} ({x(best_patched / best_saved)} higher). At a rate "
              f"{x(config1.learning_rate / patch1['learning_rate'])} lower each step is that much shorter, and in "
              f"{config1.epochs} epochs the steps do not get as far.")
flagged_text = ("none of them was flagged for the learning rate" if not seed_flags else
                f"{len(seed_flags)} of them {'was' if len(seed_flags) == 1 else 'were'} flagged for the learning rate "
                f"too (seed {', '.join(map(str, seed_flags))})")
say(f"Retrained here, the saved run {again}. {result}\\n\\n"
    f"At {len(other_seeds)} other seeds the same recipe reached best validation losses from {min(seed_bests):.3g} "
    f"to {max(seed_bests):.3g} (the flagged run: {best_saved:.3g}), and {flagged_text}.")
patch_guess.compare("lower with the patch" if helped else "no lower",
                    f"best validation loss {best_patched:.3g} with the patch, {best_saved:.3g} as saved")
''')

md("""
### A second opinion: the range test

A range test (lesson 2) trains one run whose learning rate rises every epoch, from far too
low to far too high. The loss falls once the rate is large enough to move the weights, bottoms out,
and rises where the steps overshoot. A rate that is too high sits past the bottom.
""")

code('''
range1 = lr_range_test(config1, data1, lowest=1e-4, highest=1.0, epochs=12)
range_test_figure(range1, title="Range test of the saved recipe")
''')

say('''
rate = config1.learning_rate
below = rate <= range1.lowest_loss_rate
false_alarm = not helped and below and len(seed_flags) < len(other_seeds) / 2
facts.update(lr_range_lowest_loss_rate=range1.lowest_loss_rate, lr_range_suggestion=range1.suggestion,
             lr_range_blew_up_at=range1.blew_up_at, lr_rate_below_lowest=below, lr_false_alarm=false_alarm)
end = (f"it blew up at {range1.blew_up_at:.2g}" if range1.blew_up_at else "it never blew up within the range")
where = (f"{rate:g} lies below that, on the side where the loss still fell as the rate rose, not past the "
         f"bottom" if below else
         f"{rate:g} lies above that, past the bottom of the curve, where the steps overshoot")
if false_alarm:
    verdict = (f"**Verdict: a false alarm.** The lower rate did worse in the same epochs, the recipe's other runs "
               f"were not flagged, and the range test puts {rate:g} below the rate of the lowest loss. What the rule "
               f"saw in epochs {flagged1.data['epochs'][0]}-{flagged1.data['epochs'][-1]} was the noise of a short "
               f"run ({flagged1.data['steps']} steps an epoch, {len(data1.X_val)} validation sequences), not steps "
               f"that overshoot. Keep the rate.")
elif helped:
    verdict = ("**Verdict: the finding stands.** The lower rate did better in the same epochs: take the patch.")
else:
    verdict = ("**Verdict: not settled.** The lower rate did no better, but the other checks do not clear the rate "
               "either: train longer, at more seeds, before changing it.")
say(f"The range test's loss was lowest at **{range1.lowest_loss_rate:.2g}** and {end}; its suggestion, a tenth of "
    f"that, is {range1.suggestion:.2g}. The saved rate {where}.\\n\\n{verdict}")
''')

# -- case 2 ---------------------------------------------------------------------------------

md("""
## 2. Not learning: weights that do not move, or weights that move to no use?

The `echo` task: each sequence is uniform noise, and the target is its very first value.
The model must carry one number from the first step to the last. "Not learning" says only
that the validation loss stayed at that of always predicting the mean, and two very
different runs end that way: one whose weights do not move (a learning rate too low,
clipping too tight, saturated gates), and one whose weights move but learn nothing that
carries over to new sequences (a target that does not depend on what the model sees, a
dependency too far back for the model, a learning rate or a number of epochs wrong for the
task). Their fixes have nothing in common, so tell them apart first.
""")

code('''
case2, saved2, data2, config2 = load_case("not_learning_echo")
findings2 = diagnose(saved2, data2)
stuck2 = next(f for f in findings2 if f.code == case2["finding"])
facts.update(nl_codes=[f.code for f in findings2], nl_vs_mean=stuck2.data["vs_mean"], nl_step=stuck2.data["step_ratio"])
say(f"The saved run: {recipe(case2)}. Its best validation loss in the last epochs was {stuck2.data['judged_best']:.3g}, "
    f"{x(stuck2.data['vs_mean'])} the loss of always predicting the mean. Today's diagnosis of it:")
display(Markdown(findings_markdown(findings2)))
''')

md("""
The finding points to its own confirmation: **the first checks** (Karpathy, *A Recipe for
Training Neural Networks*, 2019). With a fresh copy of the model and the same settings,
`first_checks(config, data)` measures the loss at initialisation against what it should be
(about the loss of predicting 0), then trains on one small batch only. A model that can
drive one batch's loss near zero can update its weights; one that cannot, even there, has
weights that do not update.
""")

code('''
fit_guess = predict(f"With the saved settings, will one batch of 16 sequences be fitted (its loss down to "
                    f"{OVERFIT_SHARE:g} of its start or below)?",
                    ["yes, it fits the batch", "no, not even one batch"])
fit_guess
''')

code('''
low_rate = config2.learning_rate / 300  # the same check where the weights cannot move, to compare with
checks2 = {f"as saved (learning rate {config2.learning_rate:g})": first_checks(config2, data2),
           f"learning rate {low_rate:.2g}": first_checks(config2.replace(learning_rate=low_rate), data2)}
pd.DataFrame([{"settings": name, "loss at init": c.initial_loss, "expected (predicting 0)": c.zero_loss,
               "batch loss, start": c.batch_losses[0], "batch loss, end": c.batch_losses[-1],
               "update per step": c.update_per_step, "fitted": c.overfits}
              for name, c in checks2.items()]).set_index("settings")
''')

say('''
fc, low = checks2.values()
facts.update(nl_init_ok=fc.init_ok, nl_overfits=fc.overfits, nl_batch_ratio=fc.batch_ratio,
             nl_fc_step=fc.update_per_step, nl_low_overfits=low.overfits, nl_low_step=low.update_per_step)
init = (f"The untrained model's loss was {fc.initial_loss:.3g}, {x(fc.initial_loss / fc.zero_loss)} that of predicting 0: "
        + ("as it should be." if fc.init_ok else "not what it should be (look at the scale of inputs and target)."))
batch = (f"In {fc.steps} steps one batch of {fc.batch_size} went from {fc.batch_losses[0]:.3g} to "
         f"{fc.batch_losses[-1]:.2g} ({x(fc.batch_ratio)} of its start), each step moving the weights by "
         f"{fc.update_per_step:.2g} of their size.")
if fc.overfits:
    verdict = ("**The weights move to no use.** The model can learn, and its weights update: it memorised the batch. "
               "So the full run's failure lies in what it is asked to learn, not in the updates: look at the data "
               "(does the target depend on what the model sees?), at how far back the target's information lies, "
               "and at the learning rate and epochs for the whole task.")
elif fc.update_per_step < UPDATE_RATIO_LOW:
    verdict = ("**The weights are not updating.** Even one batch is not fitted, and the steps are tiny: raise the "
               "learning rate or loosen the clipping before anything else.")
else:
    verdict = ("**The weights move, but not down the loss.** Even one batch is not fitted although the steps are "
               "not small: a learning rate too high for the problem, saturated gates, or too small a model.")
contrast = (f"For comparison, the same check at learning rate {low_rate:.2g}: each step moved the weights by "
            f"{low.update_per_step:.2g} of their size ({x(fc.update_per_step / low.update_per_step)} less) and the "
            f"batch's loss ended at {x(low.batch_ratio)} of its start, "
            + ("not fitted: that is what weights that do not move look like." if not low.overfits else "fitted even so."))
say(f"{init} {batch} {verdict}\\n\\n{contrast}")
fit_guess.compare("yes, it fits the batch" if fc.overfits else "no, not even one batch",
                  f"the batch's loss ended at {x(fc.batch_ratio)} of its start")
''')

md("""
### Where the information lies

The first checks say where to look; the saved run's other finding says what to look for.
The target is the first value of each sequence, as far from the prediction as the sequence
is long. The same sequences and targets, cut to their first few steps, keep that value in
the window and bring it a few steps from the end:
""")

code('''
k2 = 10
first_k = SequenceData(data2.X_train[:, :k2], data2.y_train, data2.X_val[:, :k2], data2.y_val,
                       feature_names=data2.feature_names, name=f"{data2.name}, first {k2} steps")
near2 = train(config2, first_k)
near_recs = near2.history.run()
near_codes = [f.code for f in diagnose(near2.history, first_k)]
far_recs = saved2.run()


def reach(record):
    """The gradient at the first time step over the last one's, on the probe batch."""
    return record.grad_through_time[0] / record.grad_through_time[-1]


pd.DataFrame([
    {"run": f"as saved, {data2.n_timesteps} steps", "best val loss": best_val(far_recs),
     "vs the mean": best_val(far_recs) / far_recs[-1].baseline_loss,
     "gradient at step 1 / at the last": reach(far_recs[-1]), "diagnosis": ", ".join(f.code for f in findings2)},
    {"run": f"first {k2} steps", "best val loss": best_val(near_recs),
     "vs the mean": best_val(near_recs) / near_recs[-1].baseline_loss,
     "gradient at step 1 / at the last": reach(near_recs[-1]), "diagnosis": ", ".join(near_codes)},
]).set_index("run")
''')

say('''
far_vs, near_vs = best_val(far_recs) / far_recs[-1].baseline_loss, best_val(near_recs) / near_recs[-1].baseline_loss
learned_near = near_vs < 0.5
facts.update(nl_near_vs_mean=near_vs, nl_near_codes=near_codes, nl_near_learned=learned_near)
say(f"Over {data2.n_timesteps} steps the first step got {x(reach(far_recs[-1]))} the last step's gradient, and the "
    f"model stayed at {x(far_vs)} the mean's loss. With the same value {k2} steps back the first step got "
    f"{x(reach(near_recs[-1]))} the last step's gradient, and the best validation loss fell to **{x(near_vs)} the mean's**"
    + (": the model learned the task. The weights could move all along; over the long sequences the signal that "
       "would teach them to keep the first value faded out on its way back." if learned_near else
       ", not far enough to call it learned: the distance is not the whole story here."))
''')

# -- case 3 ---------------------------------------------------------------------------------

md("""
## 3. Vanishing gradients on a forecaster that only needs the recent past

Yearly tree-ring widths of a Great Basin bristlecone pine (`treering`, public domain, see
`lstm_widgets/datasets/SOURCES.md`): each window of years forecasts the next year's width.
The diagnosis warns that the gradient vanishes through time: the first years of each
window get almost none of it, so nothing that lies there can be learned. That is true. But
a forecaster rarely needs the far past, and a warning about what cannot be learned matters
only if something there is worth learning. Two checks tell: the baselines every epoch
record carries (`baseline_loss`, always predicting the mean; `persistence_loss`, repeating
the last value), and the same windows cut to their last few years.
""")

code('''
case3, saved3, data3, config3 = load_case("vanishing_recent_past")
findings3 = diagnose(saved3, data3)
vanish3 = next(f for f in findings3 if f.code == case3["finding"])
epochs3 = saved3.run()
last3, best3 = epochs3[-1], best_val(epochs3)
facts.update(vg_codes=[f.code for f in findings3], vg_vs_mean=best3 / last3.baseline_loss,
             vg_vs_persistence=best3 / last3.persistence_loss, vg_reach=vanish3.data["reach"],
             vg_length=vanish3.data["length"])
say(f"The saved run: {recipe(case3)}. Today's diagnosis of it:")
display(Markdown(findings_markdown(findings3)))
''')

code('''
k3 = 10
CLEARLY = 0.05  # "clearly worse": a best validation loss more than 5% higher
recent_guess = predict(f"Cut every window to its last {k3} years, all of which the gradient reaches: will the best "
                       f"validation loss be clearly worse (more than {CLEARLY:.0%} higher) than with all "
                       f"{data3.n_timesteps}?",
                       ["clearly worse: the far past mattered", "about the same or better: it did not matter"])
recent_guess
''')

code('''
last_k = SequenceData(data3.X_train[:, -k3:], data3.y_train, data3.X_val[:, -k3:], data3.y_val,
                      feature_names=data3.feature_names, name=f"{data3.name}, last {k3} years",
                      target_features=data3.target_features)
recent3 = train(config3, last_k)
recent_recs = recent3.history.run()
recent_codes = [f.code for f in diagnose(recent3.history, last_k)]
display(pd.DataFrame([
    {"run": f"as saved, {data3.n_timesteps} years", "best val loss": best3, "always the mean": last3.baseline_loss,
     "repeat last year": last3.persistence_loss, "diagnosis": ", ".join(f.code for f in findings3)},
    {"run": f"last {k3} years", "best val loss": best_val(recent_recs), "always the mean": recent_recs[-1].baseline_loss,
     "repeat last year": recent_recs[-1].persistence_loss, "diagnosis": ", ".join(recent_codes)},
]).set_index("run"))
compare_runs({f"{data3.n_timesteps} years (as saved)": epochs3, f"last {k3} years": recent_recs},
             field="grad_through_time", title="||dL/dx_t|| against the years counted back from the end")
''')

say('''
best_recent = best_val(recent_recs)
change = best_recent / best3 - 1
mattered = change > CLEARLY
facts.update(vg_recent_best=best_recent, vg_recent_over_saved=best_recent / best3, vg_far_past_mattered=mattered,
             vg_recent_codes=recent_codes)
beats = best3 < last3.persistence_loss
base = (f"The saved forecaster's best validation loss, **{best3:.3g}**, is {x(best3 / last3.persistence_loss)} that of "
        f"repeating last year's width ({last3.persistence_loss:.3g}) and {x(best3 / last3.baseline_loss)} that of "
        f"always predicting the mean ({last3.baseline_loss:.3g})"
        + (": it beats both." if beats and best3 < last3.baseline_loss else ".")
        + (" Repeating last year does worse than always predicting the mean: the widths change more from one year to "
           "the next than they persist." if last3.persistence_loss > last3.baseline_loss else ""))
cut = (f"Cut to the last {k3} years, the best validation loss was **{best_recent:.3g}**, "
       + (f"{change:.1%} higher" if change > 0 else f"{-change:.1%} lower") + f" than with all {data3.n_timesteps}.")
if mattered:
    verdict = ("**Verdict: the finding matters here.** The far past held something the forecaster used; a longer "
               "memory (or those years as features of the later steps) is worth trying.")
else:
    verdict = (f"**Verdict: true, and harmless.** The gradient does vanish over {vanish3.data['length']} years (it "
               f"reaches back only {vanish3.data['reach']} of them), but the years it does not reach held nothing "
               f"the forecaster needed: a window of {k3} does as well"
               + (", and the diagnosis finds nothing to warn about there." if case3["finding"] not in recent_codes
                  else ".") + " Leave the model alone, or keep the shorter window: it trains faster.")
say(f"{base}\\n\\n{cut} {verdict}")
recent_guess.compare("clearly worse: the far past mattered" if mattered else "about the same or better: it did not matter",
                     f"best validation loss {best_recent:.3g} over {k3} years, {best3:.3g} over {data3.n_timesteps}")
''')

md("""
## What to remember

* A finding is a hypothesis read from a few numbers, and each one predicts something a
  run can test. Run the test before you act on the finding.
* **Learning rate too high**: train the patch beside the original for the same epochs, and
  the same recipe at other seeds. If the lower rate does no better and the other seeds are
  clean, the bumps were noise; a range test shows on which side of the loss's bottom the
  rate sits.
* **Not learning**: the first checks tell the two kinds apart. One batch fitted: the
  weights move, and the problem is in what the model is asked to learn (the data, the
  target, how far back its information lies). Not even one batch, with tiny steps: the
  weights are not updating.
* **Vanishing gradients** on a forecaster: compare with persistence and cut the window to
  its last few steps. If the short window does as well, the far past held nothing the
  model needed, and the warning, true as it is, costs nothing.
""")


# -- writing --------------------------------------------------------------------------------


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, (kind, src) in enumerate(CELLS):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        cell.id = hashlib.sha1(f"gallery:{i}:{src}".encode()).hexdigest()[:8]  # stable across rebuilds
        if kind != "md":
            narrates = _narrates(src)
            assert narrates == (kind == "say"), f"cell {i} is a {kind!r} cell but _narrates says {narrates}:\n{src[:300]}"
            if narrates:
                cell.metadata["jupyter"] = {"source_hidden": True}
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


if __name__ == "__main__":
    nbformat.write(build(), OUT)
    print(f"wrote {OUT} ({len(CELLS)} cells)")
