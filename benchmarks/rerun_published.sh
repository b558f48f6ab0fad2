#!/usr/bin/env bash
# Re-make a published experiment of docs/results.md: pretraining (runs/published/NAME/, not committed)
# and the evaluation against every baseline (random, kaiming, channel-stats where it applies) into
# docs/results/NAME/ (results.csv, report.md, report.json, run.json: committed; the tables in the docs
# are rendered from results.csv by benchmarks/render_results.py and checked by the tests).
#
#   benchmarks/rerun_published.sh view_batchnorm   # joint vs separate BatchNorm over the two views
#   benchmarks/rerun_published.sh eurosat_rgb      # 2 pretraining seeds x BUDGET, 1 / 10 % labels
#   benchmarks/rerun_published.sh eurosat_ms
#   benchmarks/rerun_published.sh pneumoniamnist
#   benchmarks/rerun_published.sh water_seg
#   benchmarks/rerun_published.sh kvasir_seg
#
# Run each alone on the machine (two torch jobs on 2 cores slow each other down many times over).
# Pretraining settings shared by all (chosen in earlier sessions, docs/results.md): resnet18, AdamW
# lr 2e-3, EMA tau 0.99 -> 1, channels_last, the card's recipe, precision as the run's config says
# (recorded with the CPU in each run.json). Every pretraining run uses the training split only.
#
# Environment: DATA (default ../shared/data), BT (the CLI), PY (python), BUDGET_<NAME> (pretraining
# time budget, e.g. 10m), SEEDS (label seeds, default 3), SEG_SEEDS (default 1), SEG_FRACTIONS (default
# "0.05 0.2": the 100 % cell costs twice a 5 % one and is left out on 2 CPU cores), EPOCHS (default 10).
set -euo pipefail

cd "$(dirname "$0")/.."
NAME=${1:?usage: $0 view_batchnorm|eurosat_rgb|eurosat_ms|pneumoniamnist|water_seg|kvasir_seg}
DATA=${DATA:-../shared/data}
BT=${BT:-.venv/bin/byol-transfer}
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-3}
RUNS=runs/published
RECORD=("$PY" benchmarks/record_run.py)
PRETRAIN_SETTINGS=(--set optim.name=adamw --set optim.base_lr=2e-3 --set ema.base_tau=0.99
                   --set train.channels_last=true --set data.num_workers=0)
mkdir -p "$RUNS"

eurosat_rgb_train_only() {
    # Pretraining must not see the test images: a folder of symlinks to the train split only.
    local dir=$RUNS/eurosat_rgb_train_only
    if [[ ! -d $dir ]]; then
        while IFS=$'\t' read -r rel _; do
            mkdir -p "$dir/$(dirname "$rel")"
            ln -s "$(realpath "$DATA/eurosat_rgb/$rel")" "$dir/$rel"
        done < "$DATA/eurosat_rgb_splits/train.txt"
    fi
    echo "$dir"
}

pair_train_only() {
    # The committed training split of a segmentation card (datasets/NAME/splits/train.txt) as symlinks,
    # so that pretraining sees the training images only.
    local name=$1 dir=$RUNS/${1}_train_only
    if [[ ! -d $dir ]]; then
        mkdir -p "$dir"
        while read -r rel _; do
            [[ -z $rel ]] && continue
            ln -s "$(realpath "$DATA/$name/images/$rel")" "$dir/$(basename "$rel")"
        done < "datasets/$name/splits/train.txt"
    fi
    echo "$dir"
}

pretrain() {  # pretrain OUT RECIPE DATA [flags...]; then export OUT/backbone.safetensors
    local out=$1 recipe=$2 data=$3
    shift 3
    if [[ ! -f $out/backbone.safetensors ]]; then
        rm -rf "$out"
        "${RECORD[@]}" --out "$out" -- "$BT" pretrain --config "$recipe" --data "$data" --out "$out" \
            --backbone resnet18 "${PRETRAIN_SETTINGS[@]}" "$@"
        "$BT" export "$out" --out "$out/backbone.safetensors"
    fi
    # what the pretraining did (planned vs actual time, the loss curve) next to the published results
    local keep=docs/results/$NAME/pretraining/$(basename "$out")
    mkdir -p "$keep"
    cp "$out/metrics.csv" "$out/config.yaml" "$out/run.json" "$keep/"
    [[ -f $out/budget.json ]] && cp "$out/budget.json" "$keep/"
    return 0
}

case "$NAME" in
view_batchnorm)
    # Both modes from the same seed and data, equal steps; loss and the online k-NN monitor (2,000
    # training images: 1,000 queries against a 1,000-image bank) every 50 steps.
    train_dir=$(eurosat_rgb_train_only)
    for mode in joint separate; do
        pretrain "$RUNS/view_batchnorm_$mode" satellite_rgb "$train_dir" --image-size 32 --batch-size 128 \
            --max-steps "${STEPS:-240}" --epochs 100 --set model.view_batchnorm=$mode \
            --monitor-data "$DATA/eurosat_rgb" --monitor-labels "$DATA/eurosat_rgb_splits/train.txt" \
            --monitor-every 40
    done
    "$PY" benchmarks/view_batchnorm_table.py --runs "$RUNS/view_batchnorm_joint" "$RUNS/view_batchnorm_separate" \
        --out docs/results/view_batchnorm
    ;;
eurosat_rgb)
    train_dir=$(eurosat_rgb_train_only)
    for seed in 0 1; do
        pretrain "$RUNS/eurosat_rgb_s$seed" satellite_rgb "$train_dir" --image-size 32 --batch-size 128 \
            --time-budget "${BUDGET_EUROSAT_RGB:-10m}" --epochs 100 --seed "$seed"
    done
    "${RECORD[@]}" --out docs/results/eurosat_rgb -- "$BT" label-efficiency --data "$DATA/eurosat_rgb" \
        --labels "$DATA/eurosat_rgb_splits/train.txt" --test-labels "$DATA/eurosat_rgb_splits/test.txt" \
        --backbone "BYOL-s0=$RUNS/eurosat_rgb_s0/backbone.safetensors" \
        "BYOL-s1=$RUNS/eurosat_rgb_s1/backbone.safetensors" random kaiming channel-stats \
        --image-size 32 --fractions 0.01 0.1 --seeds "$SEEDS" --evaluators knn,linear --knn-k 20 \
        --title "EuroSAT RGB, frozen features" --no-progress --cache-dir "$RUNS/eurosat_rgb_features" \
        --out docs/results/eurosat_rgb
    ;;
eurosat_ms)
    pretrain "$RUNS/eurosat_ms" satellite_multispectral "$DATA/eurosat_ms/train" --card eurosat_ms \
        --image-size 32 --batch-size 64 --time-budget "${BUDGET_EUROSAT_MS:-6m}" --epochs 10000
    "${RECORD[@]}" --out docs/results/eurosat_ms -- "$BT" label-efficiency --data "$DATA/eurosat_ms" \
        --card eurosat_ms --backbone "BYOL=$RUNS/eurosat_ms/backbone.safetensors" random kaiming channel-stats \
        --image-size 32 --fractions 0.05 0.2 1.0 --seeds "$SEEDS" --evaluators knn,linear --knn-k 5 20 \
        --title "EuroSAT MS (216 training tiles), frozen features" --no-progress \
        --cache-dir "$RUNS/eurosat_ms_features" --out docs/results/eurosat_ms
    ;;
pneumoniamnist)
    npz=$DATA/pneumoniamnist/pneumoniamnist.npz
    # The npz's train_* arrays only: pretraining reads the training split of a MedMNIST archive.
    pretrain "$RUNS/pneumoniamnist" radiology_xray "$npz" --card pneumoniamnist --image-size 32 \
        --batch-size 128 --time-budget "${BUDGET_PNEUMONIAMNIST:-8m}" --epochs 100
    "${RECORD[@]}" --out docs/results/pneumoniamnist -- "$BT" label-efficiency --data "$npz" \
        --card pneumoniamnist --backbone "BYOL=$RUNS/pneumoniamnist/backbone.safetensors" random kaiming \
        channel-stats --image-size 32 --fractions 0.01 0.1 1.0 --seeds "$SEEDS" --evaluators knn,linear \
        --knn-k 20 --title "PneumoniaMNIST, frozen features" --no-progress \
        --cache-dir "$RUNS/pneumoniamnist_features" --out docs/results/pneumoniamnist
    ;;
water_seg|kvasir_seg)
    if [[ $NAME == water_seg ]]; then recipe=satellite_multispectral; size=128; else recipe=natural_rgb; size=96; fi
    train_dir=$(pair_train_only "$NAME")
    pretrain "$RUNS/$NAME" "$recipe" "$train_dir" --card "$NAME" --image-size 64 --batch-size 64 \
        --time-budget "${BUDGET_SEG:-6m}" --epochs 1000
    "${RECORD[@]}" --out "docs/results/$NAME" -- "$BT" segment --data "$DATA/$NAME" --card "$NAME" \
        --backbone "BYOL=$RUNS/$NAME/backbone.safetensors" random kaiming --arch unet --image-size "$size" \
        --fractions ${SEG_FRACTIONS:-0.05 0.2} --seeds "${SEG_SEEDS:-1}" --epochs "${EPOCHS:-10}" --batch-size 8 \
        --title "$NAME, U-Net fine-tuning" --no-progress --out "docs/results/$NAME"
    ;;
*)
    echo "unknown experiment $NAME" >&2
    exit 2
    ;;
esac
