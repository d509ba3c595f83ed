#!/usr/bin/env bash
# Every GPU path of the project, run for real in one go (at most 8 minutes on one GPU):
# the gpu-marked tests, the README's GPU commands for a few steps each, and the GPU
# benchmarks. Everything it prints goes to $OUT/<part>.log (and the summary to
# $OUT/summary.txt), so that what ran comes back even when a part fails.
#
#   make gpu-wheels        # here, once: the pure-Python packages the GPU machine lacks
#   OUT=/tmp/gpu make gpu-check       # there (or anywhere: without CUDA it says so and skips)
#
# On a machine without CUDA it checks that the parts skip, and says why.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_check}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled HYDRA_FULL_ERROR=1
summary="$OUT/summary.txt"
: > "$summary"
started=$(date +%s)

# part NAME SECONDS COMMAND...: run it with a time limit, log it, note how it ended.
part() {
    local name=$1 limit=$2
    shift 2
    local t0=$(date +%s)
    echo "== $name: $*" | tee "$OUT/$name.log"
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
    local status=${PIPESTATUS[0]}
    local took=$(( $(date +%s) - t0 ))
    printf '%-14s exit %-3s %4ss  %s\n' "$name" "$status" "$took" "$*" | tee -a "$summary"
}

# The packages a GPU machine without network lacks (make gpu-wheels), where they are missing.
if [ -d .whl ] && ! "$PYTHON" -c "import hydra, pydantic, alexnet" 2>/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site \
        .whl/*.whl . >"$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
    export PYTHONPATH=/tmp/site
fi

cuda=$("$PYTHON" -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" 2>>"$OUT/install.log")
{ nvidia-smi 2>&1 || true; "$PYTHON" -c "import torch, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__)"; } > "$OUT/env.txt"
if [ -z "$cuda" ]; then
    echo "no CUDA device here (torch.cuda.is_available() is False): the GPU parts are skipped" | tee -a "$summary"
fi
echo "device: ${cuda:-none}" | tee -a "$summary"

# 1. The gpu-marked tests (skipped, each with the reason, without CUDA).
part tests 150 "$PYTHON" -m pytest -m gpu -q -rs tests/test_gpu.py

# 2. The README's GPU commands, a few steps each, on the default data (digits: offline).
few="trainer.max_epochs=1 trainer.limit_train_batches=10 trainer.limit_val_batches=2 trainer.limit_test_batches=2 logger=csv"
run="$OUT/runs"
if [ -n "$cuda" ]; then
    part gpu 120 "$PYTHON" train.py trainer=gpu $few hydra.run.dir="$run/gpu"
    part compile 180 "$PYTHON" train.py trainer=gpu compile=strict $few hydra.run.dir="$run/compile"
    part on_device 90 "$PYTHON" train.py trainer=gpu data.on_device=true $few hydra.run.dir="$run/on_device"
    part paper_lrn 120 "$PYTHON" train.py trainer=gpu experiment=paper model=alexnet trainer.deterministic=true trainer.precision=32-true channels_last=false data.batch_size=32 $few hydra.run.dir="$run/paper_lrn"
    ckpt="$run/gpu/checkpoints/last.ckpt"
    mkdir -p "$run/images" && "$PYTHON" -c "
from PIL import Image; import numpy as np
for i in range(4): Image.fromarray((np.random.default_rng(i).random((40, 48, 3)) * 255).astype('uint8')).save('$run/images/%d.png' % i)"
    mkdir -p "$run/photos" && "$PYTHON" -c "
from PIL import Image; import numpy as np
for c in range(3):
    for i in range(40):
        Image.fromarray((np.random.default_rng(100 * c + i).random((375, 500, 3)) * 255).astype('uint8')).save('$run/photos/class%d_%02d.jpg' % (c, i))" \
        && for c in 0 1 2; do mkdir -p "$run/photos/c$c" && mv "$run"/photos/class${c}_*.jpg "$run/photos/c$c/"; done
    part prepared 150 "$PYTHON" train.py trainer=gpu data=image_folder data.root="$run/photos" data.preset=paper data.prepared.use=true model=alexnet $few hydra.run.dir="$run/prepared"
    part predict 90 "$PYTHON" predict.py ckpt_path="$ckpt" "inputs=[$run/images]" device=cuda hydra.run.dir="$run/predict"
    part export 120 "$PYTHON" export.py ckpt_path="$ckpt" "formats=[torchscript,onnx]" out="$run/export" hydra.run.dir="$run/export_run"
else
    echo "README GPU commands: skipped (no CUDA device)" | tee -a "$summary"
fi

# 3. Benchmarks: throughput and MFU, a small dataset's epoch, the JPEG pipeline.
if [ -n "$cuda" ]; then
    part throughput 240 "$PYTHON" experiments/benchmarks/gpu_throughput/bench_gpu.py \
        --steps 30 --warmup 10 --json "$OUT/throughput.json" --profile-dir "$OUT"
    part small_epoch 120 "$PYTHON" experiments/benchmarks/small_dataset_epoch/bench_small_epoch.py --train-steps 100
    part jpeg 150 "$PYTHON" experiments/benchmarks/data_loading/bench_loading.py --images 2000 --workers "$(nproc)" --repeats 1
else
    part throughput 120 "$PYTHON" experiments/benchmarks/gpu_throughput/bench_gpu.py --device cpu \
        --batch 2 --steps 1 --warmup 1 --settings fp32 --models alexnet torchvision.alexnet
fi
echo "total $(( $(date +%s) - started )) s" | tee -a "$summary"
! grep -qE 'exit [1-9]' "$summary"
