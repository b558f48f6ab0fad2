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
# The pay-off experiments (docs/results.md, "Does pretraining pay off?"; benchmarks/targets_table.py):
#   benchmarks/rerun_published.sh levers_eurosat_rgb      # short runs that differ in one lever each
#   benchmarks/rerun_published.sh target_eurosat_rgb      # --time-budget 25m (BUDGET_TARGET_EUROSAT_RGB)
#   benchmarks/rerun_published.sh target_eurosat_ms       # continue the target_eurosat_rgb export on 13
#                                                         # bands vs the same budget from scratch
#   benchmarks/rerun_published.sh target_pneumoniamnist   # 15m
#   benchmarks/rerun_published.sh target_kvasir_seg       # 20m, continuing the target_eurosat_rgb export
#   benchmarks/rerun_published.sh target_water_seg        # 15m, the 7 optical bands only (--bands)
# then: python benchmarks/targets_table.py
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
NAME=${1:?usage: $0 EXPERIMENT (the list above)}
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

# Recipe variants as overrides of satellite_rgb (indices into its view lists: 4 color_jitter, 5 grayscale,
# view2 7 solarize). "no colour": the geometric views and blur only, every colour and intensity
# invariance off; "mild colour": brightness/contrast 0.2 only, no saturation, hue, grayscale or solarize.
NO_COLOUR=(--set recipe.view1.4.p=0 --set recipe.view1.5.p=0
           --set recipe.view2.4.p=0 --set recipe.view2.5.p=0 --set recipe.view2.7.p=0)
MILD_COLOUR=(--set recipe.view1.4.brightness=0.2 --set recipe.view1.4.contrast=0.2
             --set recipe.view1.4.saturation=0 --set recipe.view1.4.hue=0 --set recipe.view1.5.p=0
             --set recipe.view2.4.brightness=0.2 --set recipe.view2.4.contrast=0.2
             --set recipe.view2.4.saturation=0 --set recipe.view2.4.hue=0 --set recipe.view2.5.p=0
             --set recipe.view2.7.p=0)
MULTICROP=(--set recipe.local_crops.number=4 --set recipe.local_crops.size=16)

eurosat_rgb_eval() {  # eurosat_rgb_eval TITLE NAME=PATH... : frozen features at 1 / 10 % vs every baseline
    local title=$1
    shift
    "${RECORD[@]}" --out "docs/results/$NAME" -- "$BT" label-efficiency --data "$DATA/eurosat_rgb" \
        --labels "$DATA/eurosat_rgb_splits/train.txt" --test-labels "$DATA/eurosat_rgb_splits/test.txt" \
        --backbone "$@" random kaiming channel-stats \
        --image-size 32 --fractions 0.01 0.1 --seeds "$SEEDS" --evaluators knn,linear --knn-k 20 \
        --title "$title" --no-progress --cache-dir "$RUNS/eurosat_rgb_features" --out "docs/results/$NAME"
}

case "$NAME" in
levers_eurosat_rgb)
    # One lever per run, everything else equal (seed 0, resnet18 32 px, batch 128, BUDGET_LEVERS each,
    # precision auto): the published recipe; no colour invariances; mild colour. Multi-crop
    # (MULTICROP) diverged in bf16 + channels_last on the AMD EPYC this ran on (docs/pretraining.md,
    # multi-crop); LEVERS_MULTICROP=1 adds that arm for a machine where it trains. A fixed-steps arm is
    # not here: --max-steps N also sets the schedule's length, so it would be the budget plan itself.
    train_dir=$(eurosat_rgb_train_only)
    budget=${BUDGET_LEVERS:-4m}
    common=(--image-size 32 --batch-size 128 --seed 0 --time-budget "$budget" --epochs 100)
    pretrain "$RUNS/lever_recipe" satellite_rgb "$train_dir" "${common[@]}"
    pretrain "$RUNS/lever_no_colour" satellite_rgb "$train_dir" "${common[@]}" "${NO_COLOUR[@]}"
    pretrain "$RUNS/lever_mild_colour" satellite_rgb "$train_dir" "${common[@]}" "${MILD_COLOUR[@]}"
    arms=("recipe=$RUNS/lever_recipe/backbone.safetensors" "no-colour=$RUNS/lever_no_colour/backbone.safetensors"
          "mild-colour=$RUNS/lever_mild_colour/backbone.safetensors")
    if [[ ${LEVERS_MULTICROP:-0} == 1 ]]; then
        pretrain "$RUNS/lever_multicrop" satellite_rgb "$train_dir" "${common[@]}" "${MULTICROP[@]}"
        arms+=("multicrop=$RUNS/lever_multicrop/backbone.safetensors")
    fi
    eurosat_rgb_eval "EuroSAT RGB, one lever per pretraining run ($budget each), frozen features" "${arms[@]}"
    ;;
target_eurosat_rgb)
    # The published recipe (no lever run beat it: levers_eurosat_rgb), one --time-budget run, 3 label seeds.
    train_dir=$(eurosat_rgb_train_only)
    pretrain "$RUNS/target_eurosat_rgb" satellite_rgb "$train_dir" --image-size 32 --batch-size 128 --seed 0 \
        --time-budget "${BUDGET_TARGET_EUROSAT_RGB:-25m}" --epochs 100
    eurosat_rgb_eval "EuroSAT RGB, BYOL (satellite_rgb, ${BUDGET_TARGET_EUROSAT_RGB:-25m}), frozen features" \
        "BYOL=$RUNS/target_eurosat_rgb/backbone.safetensors"
    ;;
target_eurosat_ms)
    # Continue the EuroSAT RGB target's export on the 13 bands (red/green/blue -> B04/B03/B02, the
    # other bands the scaled mean filter) vs the same budget from scratch vs the mapped RGB export
    # with no pretraining on EuroSAT MS at all.
    rgb=$RUNS/target_eurosat_rgb/backbone.safetensors
    [[ -f $rgb ]] || { echo "$rgb not found: run target_eurosat_rgb first" >&2; exit 2; }
    budget=${BUDGET_TARGET_EUROSAT_MS:-15m}
    ms=(--card eurosat_ms --image-size 32 --batch-size 64 --seed 0 --time-budget "$budget" --epochs 10000)
    pretrain "$RUNS/target_eurosat_ms_from_rgb" satellite_multispectral "$DATA/eurosat_ms/train" "${ms[@]}" \
        --init "$rgb"
    pretrain "$RUNS/target_eurosat_ms_scratch" satellite_multispectral "$DATA/eurosat_ms/train" "${ms[@]}"
    "${RECORD[@]}" --out "docs/results/$NAME" -- "$BT" label-efficiency --data "$DATA/eurosat_ms" \
        --card eurosat_ms --backbone "BYOL-from-RGB=$RUNS/target_eurosat_ms_from_rgb/backbone.safetensors" \
        "BYOL-scratch=$RUNS/target_eurosat_ms_scratch/backbone.safetensors" "RGB-export-mapped=$rgb" \
        random kaiming channel-stats --image-size 32 --fractions 0.1 1.0 --seeds "$SEEDS" \
        --evaluators knn,linear --knn-k 20 --title "EuroSAT MS (216 training tiles), $budget each, frozen features" \
        --no-progress --cache-dir "$RUNS/eurosat_ms_features" --out "docs/results/$NAME"
    ;;
target_pneumoniamnist)
    npz=$DATA/pneumoniamnist/pneumoniamnist.npz
    budget=${BUDGET_TARGET_PNEUMONIAMNIST:-15m}
    pretrain "$RUNS/target_pneumoniamnist" radiology_xray "$npz" --card pneumoniamnist --image-size 32 \
        --batch-size 128 --seed 0 --time-budget "$budget" --epochs 1000
    "${RECORD[@]}" --out "docs/results/$NAME" -- "$BT" label-efficiency --data "$npz" --card pneumoniamnist \
        --backbone "BYOL=$RUNS/target_pneumoniamnist/backbone.safetensors" random kaiming channel-stats \
        --image-size 32 --fractions 0.01 0.1 --seeds "$SEEDS" --evaluators knn,linear --knn-k 20 \
        --title "PneumoniaMNIST, BYOL $budget, frozen features" --no-progress \
        --cache-dir "$RUNS/pneumoniamnist_features" --out "docs/results/$NAME"
    ;;
target_water_seg|target_kvasir_seg)
    # Segmentation at 5 % masks, 3 seeds: water_seg on its optical bands only (--bands, both in
    # pretraining and fine-tuning), Kvasir-SEG continuing the EuroSAT RGB target's export.
    set_name=${NAME#target_}
    train_dir=$(pair_train_only "$set_name")
    if [[ $set_name == water_seg ]]; then
        recipe=satellite_multispectral; size=128; budget=${BUDGET_TARGET_WATER_SEG:-15m}
        bands=(--bands coastal_aerosol,blue,green,red,nir,swir1,swir2); init=()
    else
        recipe=natural_rgb; size=96; budget=${BUDGET_TARGET_KVASIR_SEG:-20m}; bands=()
        init=(--init "$RUNS/target_eurosat_rgb/backbone.safetensors")
        [[ -f ${init[1]} ]] || { echo "${init[1]} not found: run target_eurosat_rgb first" >&2; exit 2; }
    fi
    pretrain "$RUNS/$NAME" "$recipe" "$train_dir" --card "$set_name" "${bands[@]}" "${init[@]}" --image-size 64 \
        --batch-size 64 --seed 0 --time-budget "$budget" --epochs 1000
    "${RECORD[@]}" --out "docs/results/$NAME" -- "$BT" segment --data "$DATA/$set_name" --card "$set_name" \
        "${bands[@]}" --backbone "BYOL=$RUNS/$NAME/backbone.safetensors" random kaiming --arch unet \
        --image-size "$size" --fractions 0.05 --seeds 3 --epochs "${EPOCHS:-10}" --batch-size 8 \
        --title "$set_name, BYOL $budget, U-Net fine-tuning" --no-progress --out "docs/results/$NAME"
    ;;
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
