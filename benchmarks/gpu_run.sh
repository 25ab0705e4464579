#!/usr/bin/env bash
# One run on a real GPU: wgtorch (through Vulkan) beside PyTorch on the same machine.
#
#   bash benchmarks/gpu_run.sh OUTDIR
#
# Writes OUTDIR/{info.txt, bench.json, torch_kernels.json, suite.json, suite.md, log.txt}:
# the adapter, wgtorch's kernel micro-benchmarks, the same kernels in PyTorch (CUDA when it
# sees a GPU, FP32 with TF32 off), and benchmarks/suite.py with PyTorch as the peer.
# Needs a python with wgtorch importable (PYTHONPATH=. is set here) and wgpu; PyTorch is
# optional (its rows are skipped without it). WGTORCH_ADAPTER picks the adapter (default:
# the best one found, which is the discrete GPU where there is one). It also runs on the
# software adapter (then PyTorch runs on the CPU), which is how it is tested.
set -uo pipefail
OUT="${1:-/tmp/wgtorch-gpu-run}"
mkdir -p "$OUT"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/wgtorch-xdg}"
mkdir -p "$XDG_RUNTIME_DIR"
SECONDS_PER="${SUITE_SECONDS:-2}"
exec > >(tee "$OUT/log.txt") 2>&1

echo "== adapter"
"$PY" -m wgtorch info | tee "$OUT/info.txt" || { echo "no adapter: nothing to measure"; exit 1; }
has_torch=0; "$PY" -c "import torch" 2>/dev/null && has_torch=1
device=cpu
if [ "$has_torch" = 1 ] && "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  device=cuda
fi
big=""; [ "$device" = cuda ] && big="--big"

echo "== wgtorch kernels"
sizes_note="default sizes"
"$PY" -m wgtorch.bench --kernels matmul,add,sum,softmax,conv,adam --reps 20 --warmup 3 \
  --json "$OUT/bench.json" || echo "wgtorch.bench failed"
if [ "$device" = cuda ]; then
  "$PY" -m wgtorch.bench --kernels matmul --sizes 2048,4096 --reps 10 --warmup 2 \
    --json "$OUT/bench_big.json" || echo "wgtorch.bench (big matmul) failed"
fi

if [ "$has_torch" = 1 ]; then
  echo "== PyTorch kernels ($device)"
  "$PY" benchmarks/torch_kernels.py --device "$device" $big --json "$OUT/torch_kernels.json" \
    || echo "torch_kernels failed"
fi

echo "== suite (PyTorch on $device)"
if [ "$has_torch" = 1 ]; then export TORCH_PYTHON="$PY" TORCH_DEVICE="$device"; fi
"$PY" benchmarks/suite.py --seconds "$SECONDS_PER" $big --json "$OUT/suite.json" \
  > "$OUT/suite.md" || echo "suite failed"
cat "$OUT/suite.md"
echo "== done: $OUT ($sizes_note)"
