"""Continual-learning benchmarks built from scikit-learn's bundled 8x8 digits (no download).

Split-Digits: 5 tasks of 2 classes ({0,1}, {2,3}, ..., {8,9}) in three scenarios
(van de Ven & Tolias, 2019):

- ``task``: the task id is known at test time; a prediction chooses between the
  task's two classes (a multi-head output, realized as a mask over 10 outputs).
- ``domain``: no task id; the label is the position in the pair (2 outputs,
  "first or second digit of the pair").
- ``class``: no task id; a prediction chooses among all 10 digits.

Permuted-Digits (``permuted``): every task shows all 10 digits under its own
fixed pixel permutation; one shared 10-way output.

Splits: a fixed stratified 70/30 train/test split of the 1,797 images. For choosing
settings, ``make_benchmark(..., split="validation")`` carves a stratified 20% of the
*training* images off as a validation split and evaluates on it; the test images are
then not part of the benchmark at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ltm.errors import InvalidInput

SCENARIOS = ("task", "domain", "class", "permuted")
SPLITS = ("test", "validation")
VAL_FRACTION = 0.2  # of the training images, held out when split="validation"


@dataclass
class Task:
    """One task: inputs ``[n, 64]`` in [0, 1], targets in the scenario's label space.

    ``x_test``/``y_test`` are the evaluation split: the test images, or the validation
    images carved from the training set when the benchmark's ``split`` is "validation".
    """

    index: int
    x_train: NDArray[np.float32]
    y_train: NDArray[np.int64]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.int64]
    classes: tuple[int, ...]  # output units this task may use (the mask in task-IL)


@dataclass
class Benchmark:
    scenario: str
    tasks: list[Task]
    n_outputs: int
    input_dim: int = 64
    split: str = "test"  # what the tasks' x_test/y_test hold: "test" or "validation"

    @property
    def uses_task_mask(self) -> bool:
        """True when predictions are restricted to the current task's outputs."""
        return self.scenario == "task"


def _load_digits(
    split_seed: int, split: str
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    """(train x, train y, eval x, eval y): eval is the test split, or with
    ``split="validation"`` a stratified part of the training images (test unused)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    y = y.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=split_seed)
    if split == "validation":
        xtr, xte, ytr, yte = train_test_split(
            xtr, ytr, test_size=VAL_FRACTION, stratify=ytr, random_state=split_seed
        )
    return xtr, ytr, xte, yte


def make_benchmark(
    scenario: str, *, n_tasks: int = 5, seed: int = 0, split_seed: int = 0, split: str = "test"
) -> Benchmark:
    """Build a benchmark. ``seed`` draws the permutations of Permuted-Digits; the
    train/test split (70/30, stratified) depends only on ``split_seed``. With
    ``split="validation"`` the tasks train on 80% of the training images and are
    evaluated on the other 20% (stratified by digit); no test image is used."""
    if scenario not in SCENARIOS:
        raise InvalidInput(f"scenario must be one of {SCENARIOS}, got {scenario!r}", field="scenario")
    if split not in SPLITS:
        raise InvalidInput(f"split must be one of {SPLITS}, got {split!r}", field="split")
    xtr, ytr, xte, yte = _load_digits(split_seed, split)
    tasks: list[Task] = []
    if scenario == "permuted":
        rng = np.random.default_rng(seed)
        for t in range(n_tasks):
            perm = rng.permutation(64)
            tasks.append(Task(t, xtr[:, perm], ytr, xte[:, perm], yte, tuple(range(10))))
        return Benchmark(scenario, tasks, 10, split=split)
    if n_tasks != 5:
        raise InvalidInput("Split-Digits has exactly 5 tasks of 2 classes", field="n_tasks")
    for t in range(5):
        pair = (2 * t, 2 * t + 1)
        tr = np.isin(ytr, pair)
        te = np.isin(yte, pair)
        if scenario == "domain":
            tasks.append(Task(t, xtr[tr], ytr[tr] - 2 * t, xte[te], yte[te] - 2 * t, (0, 1)))
        else:
            tasks.append(Task(t, xtr[tr], ytr[tr], xte[te], yte[te], pair))
    return Benchmark(scenario, tasks, 2 if scenario == "domain" else 10, split=split)
