"""Predict, then run: the learner answers a question about a run before making it, and
the lesson sets the answer beside what the run did.

Example:
    >>> guess = predict("What will the one-step control do?", ["diverge", "train"])
    >>> guess                      # a row of buttons in JupyterLab; click one, then run on
    >>> ...                        # the run
    >>> guess.compare("train", "its loss fell from 0.47 to 0.10")

Headless (nbclient, a script) nobody clicks: ``guess.answer`` stays None and
``compare`` says that no prediction was made, then what happened. ``answer=`` or
``guess.answer = "train"`` records one in code.
"""

from __future__ import annotations

import html
from typing import Sequence

__all__ = ["Prediction", "predict"]


class Prediction:
    """A question, its choices and the learner's answer (None until one is given).

    Args:
        question: What to predict, e.g. "What will the run do?".
        choices: The possible answers, two or more distinct strings.
        answer: An answer given in code. Defaults to None.

    Raises:
        ValueError: fewer than two choices, a choice that is not a non-empty string, or an
            answer that is not one of the choices.
    """

    def __init__(self, question: str, choices: Sequence[str], answer: str | None = None):
        choices = list(choices)
        if len(choices) < 2 or len(set(choices)) != len(choices) or not all(
                isinstance(c, str) and c for c in choices):
            raise ValueError(f"choices must be two or more distinct non-empty strings; got {choices!r}.")
        self.question = str(question)
        self.choices = choices
        self._answer: str | None = None
        self._widget = None
        self.answer = answer

    @property
    def answer(self) -> str | None:
        """The learner's answer: the clicked button, or one set in code; None if none."""
        return self._answer

    @answer.setter
    def answer(self, value: str | None) -> None:
        if value is not None and value not in self.choices:
            raise ValueError(f"answer must be one of {self.choices!r}; got {value!r}.")
        self._answer = value
        if self._widget is not None and self._widget.value != value:
            self._widget.value = value

    def widget(self):
        """The buttons (ipywidgets ToggleButtons), made once; clicking one sets ``answer``."""
        if self._widget is None:
            import ipywidgets as w

            self._widget = w.ToggleButtons(options=self.choices, value=self._answer, description="",
                                           style={"button_width": "auto"})
            self._widget.observe(lambda ch: setattr(self, "_answer", ch["new"]), names="value")
        return self._widget

    def _ipython_display_(self) -> None:
        import ipywidgets as w
        from IPython.display import display

        display(w.VBox([w.HTML(f"<b>Predict:</b> {html.escape(self.question)}"), self.widget()]))

    def __repr__(self) -> str:
        chosen = self._answer if self._answer is not None else "no answer yet"
        return f"Predict: {self.question} {' / '.join(self.choices)} ({chosen})"

    def compare(self, outcome: str, because: str = "") -> "Comparison":
        """What the run did beside the prediction.

        Args:
            outcome: The choice that matches what the run did (computed from the run).
            because: The numbers that show it, e.g. "its loss fell from 0.47 to 0.10".
        """
        if outcome not in self.choices:
            raise ValueError(f"outcome must be one of {self.choices!r}; got {outcome!r}.")
        return Comparison(self.question, self._answer, outcome, because)


class Comparison:
    """A prediction beside the outcome; shows itself as Markdown in a notebook."""

    def __init__(self, question: str, answer: str | None, outcome: str, because: str):
        self.question, self.answer, self.outcome, self.because = question, answer, outcome, because

    @property
    def right(self) -> bool | None:
        """True or False once an answer was given; None without one."""
        return None if self.answer is None else self.answer == self.outcome

    def text(self) -> str:
        tail = f": {self.because}" if self.because else ""
        did = f"The run says **{self.outcome}**{tail}."
        if self.answer is None:
            return f"*{self.question}* You made no prediction (click an answer above before the run). {did}"
        verdict = "You were right." if self.right else "Not what you predicted: worth a second look at why."
        return f"*{self.question}* You predicted **{self.answer}**. {did} {verdict}"

    def _repr_markdown_(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text().replace("**", "").replace("*", "")


def predict(question: str, choices: Sequence[str], answer: str | None = None) -> Prediction:
    """A :class:`Prediction` to show before a run (its buttons record the answer)."""
    return Prediction(question, choices, answer)
