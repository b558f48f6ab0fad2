#!/usr/bin/env bash
# Segmentation label efficiency on real data: BYOL-pretrained U-Net encoder vs random init at 5 / 20 /
# 100 % of the training masks. The protocol behind the segmentation numbers in docs/results.md.
#
#   benchmarks/segmentation_real_data.sh water_seg  [OUT_DIR]     # 12-band int16 tiles, binary water masks
#   benchmarks/segmentation_real_data.sh kvasir_seg [OUT_DIR]     # RGB colonoscopy frames, polyp masks
#   SMOKE=1 benchmarks/segmentation_real_data.sh water_seg        # a few-minute pipeline check, not a result
#
# Protocol (fixed; change it only together with the published numbers):
# - Split: the image/mask pairs (sorted by name) split 80/20 with numpy.random.default_rng(0), committed as
#   the card's split lists datasets/NAME/splits/{train,test}.txt (datasets/make_splits.py draws them).
#   water_seg: 245 train / 61 test; Kvasir-SEG: 800 / 200. Pretraining and stats.json see only the train
#   list's images (no masks); the test list is used for scoring only.
# - Pretraining: resnet18, the data card's recipe (water_seg: satellite_multispectral with the card's
#   per-band percentile scaling and stats; Kvasir-SEG: natural_rgb), AdamW lr 0.002, EMA tau 0.99 → 1,
#   batch 64, fp32 + channels_last (this CPU has no native bf16), PRETRAIN_STEPS steps (default 300,
#   about 10 minutes on 2 cores) on images resized to PRETRAIN_SIZE (default 64) px: BYOL at 64 px
#   costs a quarter of 128 px, so the budget buys ~75 epochs of water_seg / ~24 of Kvasir-SEG.
# - Segmentation size SIZE: 128 px for both (water_seg's native tiles; Kvasir-SEG shorter side resized
#   and centre-cropped; 224 px would cost 3x more on 2 CPU cores).
# - Fine-tuning: smp U-Net, encoder tu-resnet18 loaded strictly from the export (random init: the same
#   architecture, smp's own init, the export's value scaling/normalisation); Dice + CE, AdamW lr 1e-3,
#   encoder 0.1x, cosine, batch 8, EPOCHS (default 15) epochs of >= 128 samples, best epoch by validation
#   mIoU (20 % of each subset), fractions 0.05 / 0.2 / 1.0 of train (nested), SEEDS (default 1) seeds. FROZEN=1 adds the same sweep
#   with a frozen encoder (weights and BN statistics).
# - Metrics: IoU and Dice over all test pixels per class, mIoU / mDice over classes (results.csv).
#
# Environment: DATA (default ../shared/data), DEVICE (default auto), BT (the CLI),
# PRETRAIN_STEPS, PRETRAIN_SIZE, SIZE, EPOCHS, SEEDS, FROZEN=1, SMOKE=1 (the first 20 train / 4 test
# names of the card's lists, 3 pretraining steps, 1 epoch, 1 seed).
set -euo pipefail

cd "$(dirname "$0")/.."
NAME=${1:?usage: $0 water_seg|kvasir_seg [OUT_DIR]}
OUT=${2:-runs/segmentation_$NAME}
DATA=${DATA:-../shared/data}
DEVICE=${DEVICE:-auto}
BT=${BT:-.venv/bin/byol-transfer}
case "$NAME" in
    water_seg)  RECIPE=satellite_multispectral ;;
    kvasir_seg) RECIPE=natural_rgb ;;
    *) echo "unknown dataset $NAME (water_seg or kvasir_seg)" >&2; exit 2 ;;
esac
SIZE=${SIZE:-128}
PRETRAIN_SIZE=${PRETRAIN_SIZE:-64}
EPOCHS=${EPOCHS:-15}
SEEDS=${SEEDS:-1}
PRETRAIN_LIMIT=(--max-steps "${PRETRAIN_STEPS:-300}" --epochs 1000)
BATCH=64
EXTRA=()
LIMIT=0
if [[ "${SMOKE:-0}" == 1 ]]; then
    OUT=${2:-runs/segmentation_${NAME}_smoke}
    LIMIT=24; PRETRAIN_LIMIT=(--max-steps 3); BATCH=8; EPOCHS=1; SEEDS=1; EXTRA=(--min-epoch-samples 0)
    echo "smoke check: 24 pairs, 3 pretraining steps, 1 epoch (not a result)"
fi
mkdir -p "$OUT"

# 1. The fixed split: the card's committed lists datasets/$NAME/splits/{train,test}.txt (split_lists),
#    which `pretrain` (training split by default) and `segment` (train pool, test list) read directly.
#    SMOKE=1 symlinks the first pairs of each list into OUT/data/{train,test}/ instead.
SPLITS=datasets/$NAME/splits
SRC="$DATA/$NAME"
if [[ "$LIMIT" != 0 ]]; then
    if [[ ! -d "$OUT/data/train" ]]; then
        n_test=$(( LIMIT / 5 ))
        for split in train test; do
            count=$(( LIMIT - n_test ))
            [[ "$split" == test ]] && count=$n_test
            mkdir -p "$OUT/data/$split/images" "$OUT/data/$split/masks"
            head -n "$count" "$SPLITS/$split.txt" | while read -r name; do
                ln -s "$(realpath "$SRC/images/$name")" "$OUT/data/$split/images/$name"
                mask=$(ls "$SRC/masks/${name%.*}".* | head -n 1)
                ln -s "$(realpath "$mask")" "$OUT/data/$split/masks/$(basename "$mask")"
            done
        done
        echo "smoke subset of the card split: $(( LIMIT - n_test )) train / $n_test test → $OUT/data"
    fi
    SRC="$OUT/data"
fi

# 2. BYOL on the training images only (build_dataset takes the card's train list, or train/ of a smoke subset).
if [[ ! -f "$OUT/byol.safetensors" ]]; then
    "$BT" pretrain --config "$RECIPE" --data "$SRC" --card "$NAME" --backbone resnet18 \
        --image-size "$PRETRAIN_SIZE" --batch-size "$BATCH" "${PRETRAIN_LIMIT[@]}" --out "$OUT/byol_run" --device "$DEVICE" \
        --set optim.name=adamw --set optim.base_lr=0.002 --set ema.base_tau=0.99 \
        --set train.channels_last=true --set data.num_workers=0
    "$BT" export "$OUT/byol_run" --out "$OUT/byol.safetensors"
fi

# 3. U-Net fine-tuning, BYOL vs random init, 5 / 20 / 100 % of the training masks (test = the card's test
#    list; run.json's "split" records it).
COMMON=(--data "$SRC" --card "$NAME" --backbone "byol=$OUT/byol.safetensors" random --arch unet
        --image-size "$SIZE" --fractions 0.05 0.2 1.0 --seeds "$SEEDS" --epochs "$EPOCHS" --batch-size 8
        --device "$DEVICE" "${EXTRA[@]}")
"$BT" segment "${COMMON[@]}" --title "$NAME: U-Net, fine-tuned encoder" --out "$OUT/unet"
if [[ "${FROZEN:-0}" == 1 ]]; then
    "$BT" segment "${COMMON[@]}" --freeze-encoder --title "$NAME: U-Net, frozen encoder" --out "$OUT/unet_frozen"
fi
echo "reports: $OUT/unet/report.md$([[ "${FROZEN:-0}" == 1 ]] && echo " $OUT/unet_frozen/report.md")"
