"""The op_db harness's known gaps: expected failures and widened tolerances, each with a reason.

``EXPECTED_FAILURES[op_id][part] = reason`` lists a mismatch in an op wgtorch has that is not
fixed yet (part: forward, method, inplace, backward on float32 samples, or int: any variant
on integer/bool samples). tests/test_opinfo.py marks such a part
xfail, and fails with "remove it from EXPECTED_FAILURES" as soon as it passes.

``OPENGL_EXPECTED_FAILURES`` adds the entries that fail only on the OpenGL adapter.

``TOLERANCES[op_id] = (rtol, atol, reason)`` widens the default rtol 1e-4 / atol 1e-5.
"""

# Rows of wgtorch/ops/elementwise.py, whose table another change is reshaping: the fix for
# each is a one-line row change (the WGSL helper atan2_f exists in ops/wgsl.py
# and tests/test_op_fixes.py checks them against torch).
_ATAN2 = ("WGSL's atan2 is undefined at (0, 0) (lavapipe: 3pi/4), drops the sign of a zero y "
          "and ignores NaN; the row should call wgsl's atan2_f")
EXPECTED_FAILURES = {
    "atan2": {"int": _ATAN2},  # bool samples reach atan2(0, 0)
    "bitwise_not": {
        "int": "bool input: ~x of a stored 1 is non-zero, so True stays True (the u32 row is "
               "shared by bool and uint8; bool needs logical not)",
    },
    "square": {
        "int": "bool input: PyTorch returns int64 (square is pow(x, 2)), the row keeps bool",
    },
}

# Only on the OpenGL adapter (WGTORCH_ADAPTER=opengl): naga's GLSL leaves % on negative
# integers to the driver (DESIGN.md), so these rows need floor/trunc spelled out.
_MOD = "integer % of negative operands differs on OpenGL (the i32 row uses WGSL's %)"
OPENGL_EXPECTED_FAILURES = {
    "fmod": {"int": _MOD},
    "remainder": {"int": _MOD},
}

TOLERANCES = {
    "nn.functional.layer_norm": (
        1e-4, 1e-4,
        "a sample normalises single elements: x - mean is 0, so the weight's gradient is 0 "
        "(float64 torch: 7e-14); float32 torch returns 2.7e-5 of rounding noise"),
    "nn.functional.scaled_dot_product_attention": (
        1e-4, 1e-4,
        "query gradients reach ~30; where float64 torch gives 0 float32 torch leaves 1e-5 of "
        "cancellation noise (and wgtorch gives 0)"),
}
