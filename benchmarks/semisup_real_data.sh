#!/usr/bin/env bash
# Semi-supervised fine-tuning on real data: BYOL + FixMatch / mean teacher vs BYOL + plain fine-tuning vs
# random init + semi-supervised. The protocol behind the semi-supervised numbers in docs/results.md.
#
#   benchmarks/semisup_real_data.sh eurosat_rgb EXPORT.safetensors [OUT_DIR]
#   benchmarks/semisup_real_data.sh kvasir_seg  EXPORT.safetensors SPLIT_DIR [OUT_DIR]
#
# The exports come from the other protocols: benchmarks/eurosat_label_efficiency.sh (PRETRAIN=1, 32 px)
# and benchmarks/segmentation_real_data.sh kvasir_seg (its OUT/byol.safetensors and OUT/data split).
#
# Protocol (fixed; change it only together with the published numbers):
# - EuroSAT RGB: the fixed 80/20 split files, 32 px, labelled subsets 1 % and 10 % of train (seed 0, the
#   same subsets as the label-efficiency protocol), unlabelled pool = the other train images (never the
#   test split). Fine-tuning: resnet18 + linear head, batch 32, head LR 1e-2, backbone 0.1x, early
#   stopping on the subset's 20 % validation carve (patience 5). 1 %: 30 epochs of >= 320 samples
#   (300 steps); 10 %: 4 epochs (216 steps), a CPU budget. semisup: the same plus FixMatch, threshold
#   0.95, mu 7 (224 unlabelled images per step), weight 1, views from the satellite_rgb recipe.
# - Kvasir-SEG: the segmentation protocol's split (800 train / 200 test), 96 px, U-Net tu-resnet18,
#   5 % and 20 % of the training masks, 10 epochs of >= 128 samples, batch 8; semisup: the same plus a
#   mean teacher (EMA 0.99, threshold 0.95, mu 1, ramp-up 10 % of the steps) on the other train images.
#
# Environment: DATA (default ../shared/data), DEVICE (default auto), BT (the CLI), SEEDS (default 1),
# RUNS (EuroSAT: which of the "1 10" % runs, default both), PATIENCE (EuroSAT early stopping, default 5;
# 0 = train every epoch and keep the best on validation),
# SMOKE=1 (a few minutes: tiny subsets and 1 epoch; a pipeline check, not a result).
set -euo pipefail

cd "$(dirname "$0")/.."
NAME=${1:?usage: $0 eurosat_rgb|kvasir_seg EXPORT [SPLIT_DIR] [OUT_DIR]}
EXPORT=${2:?the BYOL export (.safetensors with its .json sidecar)}
DATA=${DATA:-../shared/data}
DEVICE=${DEVICE:-auto}
BT=${BT:-.venv/bin/byol-transfer}
SEEDS=${SEEDS:-1}
SMOKE=${SMOKE:-0}

case "$NAME" in
eurosat_rgb)
    OUT=${3:-runs/semisup_eurosat_rgb}
    SPLITS=$DATA/eurosat_rgb_splits
    TRAIN_TXT=$SPLITS/train.txt
    TEST_TXT=$SPLITS/test.txt
    EPOCHS_1=30; EPOCHS_10=4
    if [[ "$SMOKE" == 1 ]]; then
        OUT=${3:-runs/semisup_eurosat_rgb_smoke}
        mkdir -p "$OUT/splits_subset"
        head -n 2000 "$SPLITS/train.txt" > "$OUT/splits_subset/train.txt"
        head -n 200 "$SPLITS/test.txt" > "$OUT/splits_subset/test.txt"
        TRAIN_TXT=$OUT/splits_subset/train.txt; TEST_TXT=$OUT/splits_subset/test.txt
        EPOCHS_1=1; EPOCHS_10=1
        echo "smoke check: 2,000 train / 200 test images, 1 epoch (not a result)"
    fi
    mkdir -p "$OUT"
    COMMON=(--data "$DATA/eurosat_rgb" --labels "$TRAIN_TXT" --test-labels "$TEST_TXT" --image-size 32
            --backbone "BYOL=$EXPORT" random=random --seeds "$SEEDS" --device "$DEVICE"
            --evaluators finetune --semi-supervised --batch-size 32 --cache-dir "$OUT/features"
            --patience "${PATIENCE:-5}")
    if [[ " ${RUNS:-1 10} " == *" 1 "* ]]; then
        "$BT" label-efficiency "${COMMON[@]}" --fractions 0.01 --epochs "$EPOCHS_1" \
            --title "EuroSAT RGB 1 %: fine-tuning vs semi-supervised (FixMatch)" --out "$OUT/fraction_01"
    fi
    if [[ " ${RUNS:-1 10} " == *" 10 "* ]]; then
        "$BT" label-efficiency "${COMMON[@]}" --fractions 0.1 --epochs "$EPOCHS_10" \
            --title "EuroSAT RGB 10 %: fine-tuning vs semi-supervised (FixMatch)" --out "$OUT/fraction_10"
    fi
    # both fractions in one table and plot (the library's own report and plot, from the two results.csv)
    if [[ -f "$OUT/fraction_01/results.csv" && -f "$OUT/fraction_10/results.csv" ]]; then
        "${PY:-.venv/bin/python}" - "$OUT" <<'PYEOF'
import sys
from pathlib import Path

from byol_transfer.transfer.plots import plot_label_efficiency
from byol_transfer.transfer.report import read_results, write_report, write_results

out = Path(sys.argv[1])
rows = read_results(out / "fraction_01" / "results.csv") + read_results(out / "fraction_10" / "results.csv")
(out / "combined").mkdir(exist_ok=True)
csv = write_results(rows, out / "combined" / "results.csv")
title = "EuroSAT RGB: fine-tuning vs semi-supervised (FixMatch)"
write_report(csv, out / "combined" / "report.md", title,
             ["1 %: 30 epochs (300 steps), 10 %: 4 epochs (216 steps); see benchmarks/semisup_real_data.sh."])
plot_label_efficiency(csv, out / "combined" / "label_efficiency.png", title=title)
print(f"combined: {out / 'combined'}")
PYEOF
    fi
    echo "reports: $OUT/fraction_01/report.md $OUT/fraction_10/report.md"
    ;;
kvasir_seg)
    SPLIT=${3:?the split folder with train/ and test/ (benchmarks/segmentation_real_data.sh OUT/data)}
    OUT=${4:-runs/semisup_kvasir_seg}
    EPOCHS=10; FRACTIONS=(0.05 0.2); EXTRA=()
    if [[ "$SMOKE" == 1 ]]; then
        OUT=${4:-runs/semisup_kvasir_seg_smoke}; EPOCHS=1; FRACTIONS=(0.05); EXTRA=(--min-epoch-samples 16)
        echo "smoke check: 1 epoch of 16 samples (not a result)"
    fi
    "$BT" segment --data "$SPLIT" --card kvasir_seg --backbone "byol=$EXPORT" random --arch unet \
        --image-size 96 --fractions "${FRACTIONS[@]}" --seeds "$SEEDS" --epochs "$EPOCHS" --batch-size 8 \
        --semi-supervised --device "$DEVICE" "${EXTRA[@]}" \
        --title "Kvasir-SEG: U-Net fine-tuning vs semi-supervised (mean teacher)" --out "$OUT"
    echo "report: $OUT/report.md"
    ;;
*) echo "unknown dataset $NAME (eurosat_rgb or kvasir_seg)" >&2; exit 2 ;;
esac
