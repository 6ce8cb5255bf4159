"""QA: bad input to the replay buffers raises a typed ltm error and stores nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from ltm.errors import InvalidInput
from ltm.replay import (
    EmptyBufferError,
    FIFOBuffer,
    PrioritizedBuffer,
    ReplayError,
    ReservoirBuffer,
    SchemaError,
    UniformBuffer,
    open_buffer,
)


@pytest.mark.parametrize(
    ("dtype", "values"),
    [("int16", [1, 40_000]), ("int32", [2**31, 0]), ("int8", [-129, 3]), ("uint8", np.array([256], np.uint16)),
     ("int64", np.array([2**63], np.uint64))],
)
def test_an_integer_that_does_not_fit_the_field_is_refused(dtype: str, values: object) -> None:
    buf = UniformBuffer(4, {"a": dtype})
    with pytest.raises(SchemaError, match="'a'"):
        buf.extend({"a": np.asarray(values)})  # was stored wrapped around (40000 -> -25536)
    assert len(buf) == 0
    buf.extend({"a": np.asarray([1, 2], dtype=np.asarray(values).dtype)})  # values that fit go in
    assert sorted(buf.sample(20, rng=0).data["a"].tolist())[-1] == 2
    assert buf.sample(1).data["a"].dtype == np.dtype(dtype)


def test_a_finite_float_that_overflows_the_field_is_refused() -> None:
    buf = UniformBuffer(4, {"x": ((2,), "float32")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cast must not warn either
        with pytest.raises(SchemaError, match="'x'"):
            buf.extend({"x": np.array([[1.0, 1e40]])})  # was stored as inf
        assert len(buf) == 0
        buf.extend({"x": np.array([[np.inf, np.nan], [1.0, -2.5]])})  # non-finite stays as given
    got = buf._storage.arrays["x"][:2]  # noqa: SLF001 - the stored rows
    assert np.isinf(got[0, 0]) and np.isnan(got[0, 1]) and got[1].tolist() == [1.0, -2.5]


# -- arguments ---------------------------------------------------------------------------

def _full(cls: type = UniformBuffer, **kw: object) -> UniformBuffer:
    buf = cls(8, {"x": ((2,), "float32"), "reward": "float32", "done": "bool"}, seed=0, **kw)
    buf.extend({"x": np.ones((5, 2)), "reward": np.ones(5), "done": np.zeros(5, bool)})
    return buf


@pytest.mark.parametrize("capacity", [0, -1, 2.5, "x", None, True, float("nan")])
def test_a_bad_capacity_is_invalid_input(capacity: object) -> None:
    for cls in (UniformBuffer, FIFOBuffer, ReservoirBuffer, PrioritizedBuffer):
        with pytest.raises(InvalidInput) as e:
            cls(capacity, {"x": "float32"})
        assert isinstance(e.value, ReplayError)


def test_an_integral_float_capacity_still_works() -> None:
    assert UniformBuffer(1e3, {"x": "float32"}).capacity == 1000


@pytest.mark.parametrize("n", [0, -1, 2.5, "3", None])
def test_a_bad_sample_size_is_invalid_input(n: object) -> None:
    buf = _full()
    for call in (lambda: buf.sample(n), lambda: buf.sample_sequences(n, 2),
                 lambda: buf.sample_sequences(2, n), lambda: buf.sample_nstep(2, n, 0.9)):
        with pytest.raises(InvalidInput) as e:
            call()
        assert isinstance(e.value, ReplayError)


def test_bad_max_times_sampled_and_prioritized_settings_are_invalid_input() -> None:
    for kw in ({"max_times_sampled": 0}, {"max_times_sampled": 1.5}):
        with pytest.raises(InvalidInput):
            UniformBuffer(4, {"x": "float32"}, **kw)
    for kw in ({"eps": -1e-3}, {"eps": float("nan")}, {"alpha": float("nan")}, {"beta": float("inf")},
               {"alpha": -1.0}):
        with pytest.raises(InvalidInput):
            PrioritizedBuffer(4, {"x": "float32"}, **kw)


def test_bad_priority_updates_are_refused_and_change_nothing() -> None:
    buf = _full(PrioritizedBuffer)
    buf.extend({"x": np.ones((3, 2)), "reward": np.ones(3), "done": np.zeros(3, bool)})  # full: 8
    before = buf.probabilities().copy()
    bad = [
        ([-1], [5.0], None),          # negative: silently updated the last slot
        ([8], [5.0], None),           # past the capacity: raw IndexError
        ([1.7], [5.0], None),         # float index: silently truncated to 1
        ([1, 2], [5.0], None),        # shapes differ
        ([1, 2], [5.0, 1.0], [3]),    # stamps of another length: broadcast silently
        ([1], [float("nan")], None),  # NaN priority
        ([1], [float("inf")], None),
        ([[1, 2]], [[5.0, 1.0]], None),  # not one-dimensional
    ]
    for idx, pri, stamps in bad:
        with pytest.raises(InvalidInput) as e:
            buf.update_priorities(idx, pri, None if stamps is None else np.asarray(stamps))
        assert isinstance(e.value, ReplayError), (idx, pri, stamps)
    np.testing.assert_array_equal(buf.probabilities(), before)
    buf.update_priorities(np.int64(2), 4.0)  # one index as a scalar is fine
    assert buf.probabilities()[2] > before[2]


def test_zero_priorities_with_eps_zero_are_an_empty_buffer_not_a_zero_division() -> None:
    buf = _full(PrioritizedBuffer, eps=0.0)
    buf.update_priorities(np.arange(5), np.zeros(5))
    with pytest.raises(EmptyBufferError):
        buf.sample(2)
    buf.update_priorities([3], [1.0])
    assert set(buf.sample(20, rng=0).indices.tolist()) == {3}


@pytest.mark.parametrize("items", [None, 5, 3.5])
def test_extend_with_something_not_a_batch_is_a_schema_error(items: object) -> None:
    buf = _full()
    with pytest.raises(SchemaError):
        buf.extend(items)  # type: ignore[arg-type]
    assert len(buf) == 5


def test_a_list_of_item_dicts_with_different_keys_is_a_schema_error() -> None:
    buf = _full()
    item = {"x": [1.0, 2.0], "reward": 1.0, "done": False}
    with pytest.raises(SchemaError):
        buf.extend([item, {"x": [1.0, 2.0], "reward": 1.0}])  # raw KeyError before
    with pytest.raises(SchemaError):
        buf.extend([item, {**item, "extra": 1}])
    assert len(buf) == 5


def test_nstep_without_reward_or_done_fields_is_a_schema_error() -> None:
    buf = UniformBuffer(8, {"x": "float32"}, seed=0)
    buf.extend({"x": np.ones(5)})
    with pytest.raises(SchemaError, match="reward"):
        buf.sample_nstep(2, 2, 0.9)
    with pytest.raises(SchemaError, match="done"):
        buf.sample_nstep(2, 2, 0.9, reward="x")


# -- a closed buffer ------------------------------------------------------------------------

@pytest.mark.parametrize("in_folder", [False, True])
def test_a_closed_buffer_refuses_every_use(tmp_path: Path, in_folder: bool) -> None:
    path = tmp_path / "b" if in_folder else None
    buf = PrioritizedBuffer(8, {"x": "float32"}, seed=0, path=path)
    buf.extend({"x": np.ones(2)})
    buf.close()
    buf.close()  # twice is fine
    calls = [lambda: buf.sample(1), lambda: buf.extend({"x": np.ones(2)}), lambda: buf.add({"x": 1.0}),
             lambda: buf.update_priorities([0], [1.0]), lambda: buf.sample_sequences(1, 1),
             buf.checkpoint, buf.digest, buf.probabilities]
    for call in calls:
        # in memory, extend made a new empty storage while len() still counted 2 items,
        # and sample raised a bare AssertionError
        with pytest.raises(ReplayError, match="closed"):
            call()
    if in_folder:
        again = open_buffer(tmp_path / "b")
        assert len(again) == 2
        again.close()


def test_a_string_longer_than_its_field_is_refused() -> None:
    buf = UniformBuffer(4, {"name": "U5", "raw": "S3"})
    with pytest.raises(SchemaError, match="'name'"):
        buf.extend({"name": np.array(["abcdefgh", "ok"]), "raw": np.array([b"abc", b"x"])})  # was 'abcde'
    with pytest.raises(SchemaError, match="'raw'"):
        buf.extend({"name": np.array(["abc", "ok"]), "raw": np.array([b"abcdef", b"x"])})  # was b'abc'
    assert len(buf) == 0
    buf.extend({"name": np.array(["abcde", "é"]), "raw": np.array([b"abc", b""])})  # fits: wider dtypes ok
    assert sorted(buf.sample(50, rng=0).data["name"].tolist())[0] == "abcde"
