#!/usr/bin/env bash
# A short run of every benchmark, so that the scripts cannot rot; the figures it
# prints are not the published ones (see docs/performance.md and docs/benchmark.md).
set -euo pipefail
cd "$(dirname "$0")"
for script in bench_loss_step.py bench_fit.py bench_scaling.py bench_predict.py bench_sparse.py bench_vs_smote.py bench_threads.py; do
  echo "== $script --quick"
  python "$script" --quick
done
echo "== bench_cuda.py --quick --device cpu (its CUDA-only parts skip)"
python bench_cuda.py --quick --device cpu
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for script in research/loss_variants.py research/adaptive_variants.py research/balanced_batches.py research/grid_sensitivity.py research/calibration.py unseen_data.py; do
  echo "== $script --quick"
  python "$script" --quick --out "$scratch/$(basename "$script")"
done
echo "== research/fused_losses.py --quick"
python research/fused_losses.py --quick
echo "== paired.py"
python paired.py "$scratch/loss_variants.py/results.csv" \
  --reference "adaptive, weight 1 + importance (the default)"
