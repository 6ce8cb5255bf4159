"""QA: bad input to the replay buffers raises a typed ltm error and stores nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ltm.replay import SchemaError, UniformBuffer


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
