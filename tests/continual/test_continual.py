"""Split/Permuted-Digits, metrics, strategy internals, and a small class-IL run."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ltm.continual.data import make_benchmark  # noqa: E402 (needs torch)
from ltm.continual.select import select_strengths  # noqa: E402 (needs torch)
from ltm.continual.strategies import EWC, SI, OnlineEWC, StrategyConfig  # noqa: E402 (needs torch)
from ltm.continual.train import default_config, make_model, metrics, run, with_overrides  # noqa: E402 (needs torch)
from ltm.errors import InvalidInput  # noqa: E402 (needs torch)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_split_digits_scenarios() -> None:
    cls, dom, task = (make_benchmark(s) for s in ("class", "domain", "task"))
    assert len(cls.tasks) == 5 and cls.n_outputs == 10 and dom.n_outputs == 2
    for t in cls.tasks:
        assert set(np.unique(t.y_train)) == {2 * t.index, 2 * t.index + 1}
        assert t.x_train.shape[1] == 64 and 0 <= t.x_train.min() and t.x_train.max() <= 1
    for t in dom.tasks:
        assert set(np.unique(t.y_test)) == {0, 1}
    assert task.uses_task_mask and not cls.uses_task_mask
    total = sum(t.x_train.shape[0] + t.x_test.shape[0] for t in cls.tasks)
    assert total == 1797  # every digit image, train and test disjoint by construction


def _rows(*arrays: np.ndarray) -> np.ndarray:
    """The rows of ``arrays`` stacked and sorted, to compare them as multisets."""
    a = np.concatenate(arrays)
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("scenario", ["class", "permuted"])
def test_validation_split_is_carved_from_training_images(scenario: str) -> None:
    test, val = make_benchmark(scenario, seed=1), make_benchmark(scenario, seed=1, split="validation")
    assert test.split == "test" and val.split == "validation"
    for t, v in zip(test.tasks, val.tasks):
        # training + validation images of the validation benchmark are exactly the
        # training images: no test image is trained on or evaluated while choosing settings
        np.testing.assert_array_equal(_rows(v.x_train, v.x_test), _rows(t.x_train))
        np.testing.assert_array_equal(np.sort(np.concatenate([v.y_train, v.y_test])), np.sort(t.y_train))
        assert 0.15 < v.x_test.shape[0] / t.x_train.shape[0] < 0.25
    with pytest.raises(InvalidInput):
        make_benchmark("class", split="train")
    with pytest.raises(InvalidInput):
        run("nope", "ewc", 0)


def test_permuted_digits_tasks_differ_only_by_permutation() -> None:
    b = make_benchmark("permuted", seed=3)
    a0, a1 = b.tasks[0].x_train, b.tasks[1].x_train
    assert not np.array_equal(a0, a1)
    np.testing.assert_array_equal(np.sort(a0, axis=1), np.sort(a1, axis=1))
    with pytest.raises(InvalidInput):
        make_benchmark("nope")


def test_metrics_on_a_known_matrix() -> None:
    acc = np.array([[0.9, 0.0, 0.0], [0.6, 0.8, 0.0], [0.5, 0.7, 1.0]])
    avg, forget, bwt = metrics(acc)
    assert avg == pytest.approx((0.5 + 0.7 + 1.0) / 3)
    assert forget == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)
    assert bwt == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)


def _ce(logits, y, tid):  # type: ignore[no-untyped-def]
    return torch.nn.functional.cross_entropy(logits, y)


def test_fisher_matches_a_per_example_autograd_loop() -> None:
    bench = make_benchmark("class")
    torch.manual_seed(0)
    model = make_model(bench, 16)
    ewc = EWC(model, bench, StrategyConfig(fisher_samples=40), _ce, seed=0)
    fisher = ewc.fisher(0)
    x, y = bench.tasks[0].x_train, bench.tasks[0].y_train
    pick = np.random.default_rng(0).choice(x.shape[0], 40, replace=False)
    ref = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in pick:
        model.zero_grad()
        _ce(model(torch.from_numpy(x[i : i + 1])), torch.from_numpy(y[i : i + 1]), None).backward()
        for n, p in model.named_parameters():
            ref[n] += p.grad**2 / 40
    for n, r in ref.items():
        assert torch.allclose(fisher[n], r, atol=1e-7, rtol=1e-4)


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away() -> None:
    bench = make_benchmark("class")
    model = make_model(bench, 16)
    ewc = EWC(model, bench, StrategyConfig(ewc_lambda=10.0, fisher_samples=50), _ce, seed=0)
    z = torch.zeros(1)
    assert ewc.extra_loss(z, z, z, z) is None
    ewc.after_task(0)
    assert ewc.extra_loss(z, z, z, z).item() == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    assert ewc.extra_loss(z, z, z, z).item() > 0.0


def test_online_ewc_has_its_own_strength() -> None:
    bench = make_benchmark("class")
    model = make_model(bench, 16)
    z = torch.zeros(1)
    pens = []
    for cfg in (StrategyConfig(ewc_lambda=10.0, fisher_samples=50),
                StrategyConfig(ewc_lambda=10.0, online_ewc_lambda=30.0, fisher_samples=50)):
        torch.manual_seed(0)
        model = make_model(bench, 16)
        ewc = OnlineEWC(model, bench, cfg, _ce, seed=0)
        ewc.after_task(0)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1)
        pens.append(ewc.extra_loss(z, z, z, z).item())
    assert pens[0] > 0 and pens[1] == pytest.approx(3 * pens[0], rel=1e-5)


def test_si_importance_is_nonnegative_and_tracks_path() -> None:
    bench = make_benchmark("task")
    cfg = with_overrides(default_config("task"), epochs=1)
    torch.manual_seed(0)
    model = make_model(bench, 16)
    si = SI(model, bench, cfg.strategy, _ce, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.from_numpy(bench.tasks[0].x_train), torch.from_numpy(bench.tasks[0].y_train)
    for s in range(0, 64, 16):
        loss = _ce(model(x[s : s + 16]), y[s : s + 16], None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        si.after_step()
    si.after_task(0)
    imp = torch.cat([v.flatten() for v in si.importance.values()])
    assert torch.all(imp >= 0) and float(imp.sum()) > 0


def test_er_beats_finetuning_in_class_il() -> None:
    cfg = with_overrides(default_config("class"), epochs=5, hidden=64)
    ft = run("class", "finetune", 0, cfg)
    er = run("class", "er", 0, cfg)
    assert ft.average_accuracy <= 0.25  # only the last task survives
    assert er.average_accuracy >= ft.average_accuracy + 0.25
    assert er.forgetting < ft.forgetting - 0.25
    acc = np.array(er.acc_matrix)
    assert acc.shape == (5, 5) and np.all(np.triu(acc, 1) == 0)  # unseen classes never predicted


def test_strengths_are_selected_on_validation() -> None:
    sel = select_strengths(scenarios=("task",), methods=("si",), seeds=(100,),
                           sweeps={"si": ("si_c", (0.1, 10.0))})
    assert sel["split"] == "validation" and sel["seeds"] == [100]
    res = sel["results"]["task/si"]
    accs = {c["value"]: c["average_accuracy"]["mean"] for c in res["candidates"]}
    assert set(accs) == {0.1, 10.0}
    assert res["chosen"] == max(accs, key=lambda v: (accs[v], -v))
    # a validation run measures the validation split, not the test split
    ref = run("task", "si", 100, with_overrides(default_config("task"), si_c=10.0), split="validation")
    assert ref.split == "validation" and accs[10.0] == pytest.approx(ref.average_accuracy)
    with pytest.raises(InvalidInput):
        select_strengths(methods=("er",))
