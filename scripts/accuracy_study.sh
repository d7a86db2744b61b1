#!/usr/bin/env bash
# Accuracy study (issue 5 item 6; docs/accuracy.md): FP32, DFP16, FP8, HBFP8, HBFP4 and Accuracy
# Boosters on the full Fashion-MNIST with LeNet-5 and ResNet-20, same seed and hyper-parameters,
# one run directory per (model, precision), then one `dfpengine report` per model (table, markdown
# and PNG).
#
#   nice -n 19 scripts/accuracy_study.sh            # the study: many hours, run it at low priority
#   MODELS=lenet5 EPOCHS=2 scripts/accuracy_study.sh
#   MODELS=resnet20 EPOCHS_resnet20=10 EXTRA_resnet20= scripts/accuracy_study.sh   # full data
#   EPOCHS=1 EPOCHS_resnet20=1 EXTRA="--limit-train 512 --limit-test 256" OUT=/tmp/study \
#       scripts/accuracy_study.sh                   # smoke test of the whole pipeline (minutes)
#
# Runs go one after another. Re-running the script skips finished runs (summary.json present),
# resumes interrupted ones from their checkpoint (state.json present: Ctrl-C or SIGTERM saves one)
# and starts the rest; delete a run directory to redo it. Every setting below can be overridden
# from the environment; EXTRA is appended to every `dfpengine train` command, and EPOCHS_<model>
# / EXTRA_<model> override EPOCHS / add options for one model (the formats of one model always
# share every setting). The default ResNet-20 runs are cut to 3 epochs of the first 5,000
# training images and 1,000 test images: the emulated formats (FP8, HBFP) train ResNet-20 at a
# few images/s on this 2-core machine (see docs/accuracy.md for the measured rates).
set -euo pipefail

MODELS=${MODELS:-"lenet5 resnet20"}
PRECISIONS=${PRECISIONS:-"fp32 dfp16 fp8 hbfp8 hbfp4 boosters"}
DATASET=${DATASET:-fashion-mnist}          # found in /usr/share/datasets/fashion-mnist or DATA_DIR
DATA_DIR=${DATA_DIR:-}
EPOCHS=${EPOCHS:-15}
BATCH=${BATCH:-64}
LR=${LR:-0.05}
MOMENTUM=${MOMENTUM:-0.9}
WEIGHT_DECAY=${WEIGHT_DECAY:-5e-4}
SCHEDULE=${SCHEDULE:-cosine}
SEED=${SEED:-0}
THREADS=${THREADS:-}
OUT=${OUT:-runs/accuracy-study}
EXTRA=${EXTRA:-}
EPOCHS_resnet20=${EPOCHS_resnet20:-3}
# set but empty (EXTRA_resnet20=) means the full data set
EXTRA_resnet20=${EXTRA_resnet20---limit-train 5000 --limit-test 1000}
PYTHON=${PYTHON:-python}

dfpengine() { "$PYTHON" -m dfpengine.cli "$@"; }

common=(--dataset "$DATASET" --batch-size "$BATCH" --lr "$LR"
        --momentum "$MOMENTUM" --weight-decay "$WEIGHT_DECAY" --schedule "$SCHEDULE" --seed "$SEED" --json)
[[ -n "$DATA_DIR" ]] && common+=(--data-dir "$DATA_DIR")
[[ -n "$THREADS" ]] && common+=(--threads "$THREADS")
mkdir -p "$OUT"
for model in $MODELS; do
  epochs_var="EPOCHS_$model" extra_var="EXTRA_$model"
  epochs=${!epochs_var:-$EPOCHS}
  # shellcheck disable=SC2206  # lists of options, split on spaces on purpose
  extra=(${!extra_var:-} $EXTRA)
  dirs=()
  for precision in $PRECISIONS; do
    dir="$OUT/$model-$precision"
    dirs+=("$dir")
    if [[ -f "$dir/summary.json" ]]; then
      echo "== $model $precision: finished earlier, skipped ($dir)"
      continue
    fi
    if [[ -f "$dir/state.json" ]]; then
      echo "== $model $precision: resuming $dir"
      dfpengine train --out "$dir" --resume --json ${THREADS:+--threads "$THREADS"} \
        ${DATA_DIR:+--data-dir "$DATA_DIR"} --epochs "$epochs" | tail -n 1
    else
      echo "== $model $precision: training into $dir"
      rm -rf "$dir"      # a run killed before its first checkpoint left only config/metrics
      dfpengine train --model "$model" --precision "$precision" --epochs "$epochs" "${common[@]}" "${extra[@]}" \
        --out "$dir" | tail -n 1
    fi
  done
  dfpengine report "${dirs[@]}" --output "$OUT/$model.png" --markdown "$OUT/$model.md"
done
echo "== done: tables in $OUT/*.md, curves in $OUT/*.png"
