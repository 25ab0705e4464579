"""PyTorch's own OpInfo samples (op_db), run through wgtorch and torch 2.13 in one process.

One test per op_db entry (ids name the op): the function, method and in-place variants and
the gradients of every differentiable input must match torch (see tests/opinfo_support.py).
An op wgtorch lacks is skipped with the reason (docs/op_coverage.md lists them all); a mismatch
in an op wgtorch has fails, unless tests/opinfo_expected.py lists it, and a listed mismatch
that is gone fails too, asking for its entry to be removed.
"""

import pytest

pytest.importorskip("torch")
pytest.importorskip("torch.testing._internal.common_methods_invocations")  # needs expecttest

import wgtorch  # noqa: E402
from opinfo_expected import (  # noqa: E402
    EXPECTED_FAILURES, OPENGL_EXPECTED_FAILURES, TOLERANCES,
)
from opinfo_support import PARTS, all_ops, op_id, run_op  # noqa: E402

OPS = all_ops()


def expected_failures():
    """The known mismatches on this run's adapter."""
    known = {op: dict(parts) for op, parts in EXPECTED_FAILURES.items()}
    if wgtorch.get_runtime().info.get("backend_type") == "OpenGL":
        for op, parts in OPENGL_EXPECTED_FAILURES.items():
            known.setdefault(op, {}).update(parts)
    return known


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_op(op):
    report = run_op(op)
    expected = expected_failures().get(report.id, {})
    problems = []
    for name in PARTS:
        part = report.parts[name]
        if part.status == "mismatch" and name not in expected:
            problems.append(f"{name}: {part.reason}")
        elif part.status != "mismatch" and name in expected:
            problems.append(f"{name} no longer mismatches (now {part.status}): remove "
                            f"EXPECTED_FAILURES[{report.id!r}][{name!r}] from "
                            "tests/opinfo_expected.py")
    if problems:
        pytest.fail(f"{report.id}: " + "\n".join(problems), pytrace=False)
    if expected:
        pytest.xfail("; ".join(f"{k}: {v}" for k, v in expected.items()))
    if report.status != "pass":
        pytest.skip(f"{report.status}: {report.reason()}")


def test_expected_lists_name_real_ops():
    ids = {op_id(op) for op in OPS}
    for key, parts in {**EXPECTED_FAILURES, **OPENGL_EXPECTED_FAILURES}.items():
        assert key in ids, f"EXPECTED_FAILURES names {key!r}, which op_db does not have"
        assert set(parts) <= set(PARTS), f"{key}: parts must be among {PARTS}"
        assert all(isinstance(r, str) and r for r in parts.values()), f"{key}: give a reason"
    for key, (rtol, atol, reason) in TOLERANCES.items():
        assert key in ids, f"TOLERANCES names {key!r}, which op_db does not have"
        assert reason and rtol >= 1e-4 and atol >= 1e-5, key
