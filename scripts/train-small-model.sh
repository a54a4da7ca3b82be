#!/usr/bin/env bash
# Retrains the shipped model (data/models/evoscope-small.safetensors) from the bundled genomes with
# one command, then measures the order-K Markov baselines on the same held-out parts.
#
#   bash scripts/train-small-model.sh [OUT_DIR]      (default: evoscope-small-run)
#
# Data: the four bundled genomes, both strands, the last 10% of each held out (never trained on).
# Needs a release build (cmake --preset release && cmake --build build/release); set EVOSCOPE to use
# another binary and THREADS to limit the worker threads (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
EVOSCOPE=${EVOSCOPE:-build/release/bin/evoscope}
OUT=${1:-evoscope-small-run}
THREADS=${THREADS:-0}
GENOMES=(data/genomes/ctrachomatis.fa data/genomes/ecoli536.fa
         data/genomes/athaliana_chloroplast.fa data/genomes/lambda.fa)

fasta_args=()
for g in "${GENOMES[@]}"; do fasta_args+=(-f "$g"); done

# Stage 1: windows drawn in proportion to genome length (E. coli 80%, C. trachomatis 17%,
# chloroplast 2.5%, lambda 0.8%).
"$EVOSCOPE" model train --config data/models/evoscope-small.yml "${fasta_args[@]}" \
    --holdout-fraction 0.1 --strand both -w 1024 -b 8 --steps 400 \
    --lr 1e-3 --min-lr 1e-4 --warmup 30 --eval-every 200 --checkpoint-every 100 --seed 1 \
    --threads "$THREADS" -o "$OUT/stage1"

# Stage 2: continue from stage 1 with the genomes re-weighted (same -f order as GENOMES), so the
# small chloroplast gets 40% of the windows instead of 2.5%.
"$EVOSCOPE" model train --init-from "$OUT/stage1/model.safetensors" "${fasta_args[@]}" \
    --genome-weights 0.2,0.35,0.4,0.05 \
    --holdout-fraction 0.1 --strand both -w 1024 -b 8 --steps 1000 \
    --lr 2e-3 --min-lr 1e-4 --warmup 20 --eval-every 1000 --checkpoint-every 100 --seed 2 \
    --threads "$THREADS" -o "$OUT/stage2"
cp "$OUT/stage2/model.safetensors" "$OUT/model.safetensors"
cp "$OUT/stage2/heldout.tsv" "$OUT/heldout.tsv"

# Baselines: each genome on its own, same split (last 10%), both strands, K = 0..12.
for g in "${GENOMES[@]}"; do
    name=$(basename "$g" .fa)
    "$EVOSCOPE" markov -q -f "$g" --holdout-fraction 0.1 --order 0-12 --smoothing both --train-strand both --eval-strand both \
        -o "$OUT/markov-$name.tsv" --force
done
# Diagnostic: the chloroplast's held-out part (139,031-154,478, inside the inverted repeat IRa) is
# the exact reverse complement of 84,171-99,618 (in IRb). Markov baselines trained without that copy.
"$EVOSCOPE" markov -q -f data/genomes/athaliana_chloroplast.fa --train NC_000932:1-84170 \
    --train NC_000932:99619-139030 --eval NC_000932:139031-154478 --order 0-12 --smoothing both \
    --train-strand both --eval-strand both -o "$OUT/markov-athaliana_chloroplast-without-copy.tsv" --force
echo "model: $OUT/model.safetensors; held-out bits per genome: $OUT/heldout.tsv; logs: $OUT/stage{1,2}/; baselines: $OUT/markov-*.tsv"
