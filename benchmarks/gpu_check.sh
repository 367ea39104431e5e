#!/usr/bin/env bash
# The GPU path, end to end, on a machine with NVIDIA GPUs: installs `.[cuda]`, then
# benchmarks/gpu_check.py times the 32 and 64 px training steps in fp32/bf16 with and without
# XLA under MirroredStrategy on all visible GPUs, exports and serves, prints img/s and ratios
# and writes records (benchmarks/results/).
#
#   benchmarks/gpu_check.sh                   # install, check, record
#   benchmarks/gpu_check.sh --no-install      # the environment is ready
#   benchmarks/gpu_check.sh --sizes 64 --variants bf16,bf16-xla --steps 50
#
# Arguments other than --no-install go to gpu_check.py (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
install=1
args=()
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exec python benchmarks/gpu_check.py --help ;;
    *) args+=("$arg") ;;
  esac
done
dry=0
for arg in "${args[@]+"${args[@]}"}"; do [[ "$arg" == --dry-run ]] && dry=1; done
if [[ $dry == 0 ]] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check.sh: no nvidia-smi: this machine has no NVIDIA driver; run it where GPUs are" >&2
  exit 2
fi
if [[ $dry == 0 ]]; then
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
fi
if [[ $install == 1 && $dry == 0 ]]; then
  python -m pip install -q -e ".[cuda]"
fi
exec python benchmarks/gpu_check.py --record "${args[@]+"${args[@]}"}"
