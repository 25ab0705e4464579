"""The op_db harness's known gaps: expected failures and widened tolerances, each with a reason.

``EXPECTED_FAILURES[op_id][part] = reason`` lists a mismatch in an op wgtorch has that is not
fixed yet (part: forward, method, inplace or backward). tests/test_opinfo.py marks such a part
xfail, and fails with "remove it from EXPECTED_FAILURES" as soon as it passes.

``TOLERANCES[op_id] = (rtol, atol, reason)`` widens the default rtol 1e-4 / atol 1e-5.
"""

EXPECTED_FAILURES = {
}

TOLERANCES = {
}
