import json

import wgtorch
from wgtorch import bench


def test_bench_json_and_compare(tmp_path, capsys):
    out = tmp_path / "base.json"
    assert bench.main(["--kernels", "add", "--sizes", "1000", "--reps", "3",
                       "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["adapter"]["device"] == wgtorch.get_runtime().info["device"]
    (r,) = data["results"]
    assert r["name"] == "add 1000" and r["median_ms"] > 0 and r["min_ms"] <= r["max_ms"]
    assert r["clock"] in ("gpu-timestamps", "wall-clock")
    # a base that was 1000x faster: the comparison must report a regression and exit 1
    r["median_ms"] /= 1000
    out.write_text(json.dumps(data))
    assert bench.main(["--kernels", "add", "--sizes", "1000", "--reps", "3",
                       "--compare", str(out)]) == 1
    assert "REGRESSION" in capsys.readouterr().out


def test_bench_user_wgsl(tmp_path, capsys):
    src = tmp_path / "double.wgsl"
    src.write_text(
        "@group(0) @binding(0) var<storage, read> a: array<f32>;\n"
        "@group(0) @binding(1) var<storage, read_write> b: array<f32>;\n"
        "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) "
        "{ b[g.x] = a[g.x] * 2.0; }\n")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"buffers": [{"elements": 4096, "access": "read"},
                                            {"elements": 4096, "access": "read_write"}],
                                "bytes": 32768}))
    assert bench.main(["--wgsl", str(src), "--spec", str(spec), "--workgroups", "64,1,1",
                       "--reps", "2"]) == 0
    assert "wgsl" in capsys.readouterr().out


def test_gpu_time_measures_recorded_work():
    rt = wgtorch.get_runtime()
    x = wgtorch.randn(1 << 16)
    seconds = rt.gpu_time(lambda: x * 2)
    assert seconds is None or seconds > 0
