"""What every worker rank shares: reporting a passed check, comparing with numpy."""

import sys

import numpy as np

import wgtorch.distributed as dist


def say(line):
    """One line in one write: the ranks share the output pipe (print writes the end apart)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def ok(name, rank=None):
    say(f"[rank {dist.get_rank() if rank is None else rank}] OK {name}")


def close(name, got, expected, atol=1e-6, rtol=1e-6):
    """Assert that the tensor (or array) ``got`` equals ``expected`` (numpy), then report."""
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} != {expected.dtype}"
    if got.dtype.kind in "biu":
        assert np.array_equal(got, expected), f"{name}: {got} != {expected}"
    else:
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=name)
    ok(name)


def raises(name, error, fn, *args, match=None, **kwargs):
    """Assert that ``fn(*args, **kwargs)`` raises ``error`` (with ``match`` in its message)."""
    try:
        fn(*args, **kwargs)
    except error as exc:
        assert match is None or match in str(exc), f"{name}: {exc!s} lacks {match!r}"
    else:
        raise AssertionError(f"{name}: {error.__name__} not raised")
    ok(name)
