#!/usr/bin/env bash
# Reduced-precision models: file size, perplexity change and mean KL divergence from the
# float32 model (lstmlm quantize --check, by steps through the kernels generation uses), and
# batch-1 generation speed of float32, bf16 and int8 on 1 and 2 threads (alternating the
# models, ROUNDS times, best run kept), each as a fraction of the streaming bandwidth
# measured by bench/bandwidth.c for the bytes the model reads per token: of its best pass and
# of its sustained rate (the best quarter of a second, what a timed run compares with).
#
#   bench/quant.sh MODEL.h5 TEXT [ROUNDS]
# Environment: LSTMLM [src/lstmlm], OUT [quant-bench], TOKENS (of TEXT for --check) [5000],
# GEN (tokens per generate run; a transformer also runs one that just fills its context)
# [300], CHECK (0: reuse the quantized files, no --check) [1].
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lstmlm=${LSTMLM:-$here/src/lstmlm}
model=$1
text=$2
rounds=${3:-3}
out=${OUT:-quant-bench}
mkdir -p "$out"
info() { "$lstmlm" info "$1" | awk -v k="$2" '$1 == k { print $2; exit }'; }
V=$(info "$model" vocabulary)
E=$(info "$model" embed)
P=$(info "$model" parameters)
tied=$(info "$model" tied)
# Weights a step reads: every matrix but the embedding (one row), unless it is the head, and
# the transformer's position embedding (one row).
read_w=$P
[ "$tied" = yes ] || read_w=$((P - V * E))
arch=$(info "$model" arch)
gen=${GEN:-300}
lens=$gen
cache_of() { echo 0; }
if [ "$arch" = transformer ]; then
    C=$(info "$model" context)
    L=$(info "$model" layers)
    read_w=$((read_w - C * E))
    # The key/value cache a step also reads (float32 whatever the weights): slots 1..n of
    # the cache rule (a full cache keeps its last C/2), averaged over the N steps of a run
    # from an empty cache.
    cache_of() { awk -v C="$C" -v L="$L" -v E="$E" -v N="$1" 'BEGIN {
        K = int(C / 2); for (p = 1; p <= N; p++) s += (p <= C) ? p : K + 1 + (p - C - 1) % (C - K)
        printf "%d", s / N * L * 2 * E * 4 }'; }
    # A run longer than the context also re-encodes the kept half of a full cache (K tokens
    # in one window, compute-bound like a prompt): the step alone is measured with a run
    # that fills the context and no more (C - 1 tokens after the prompt), as well as GEN.
    [ "$gen" -gt $((C - 1)) ] && lens="$((C - 1)) $gen"
fi
echo "== $model: $P parameters, $read_w read per token; load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A file bytes
file[f32]=$model
bytes[f32]=$((read_w * 4))
bytes[bf16]=$((read_w * 2))
bytes[int8]=$((read_w + read_w / 16))
for t in bf16 int8; do
    file[$t]=$out/model-$t.h5
    # CHECK=0 keeps the quantized files of an earlier run and skips the comparison.
    [ "${CHECK:-1}" = 0 ] && [ -f "${file[$t]}" ] && continue
    echo "== quantize --type $t, --check on ${TOKENS:-5000} tokens of $text"
    "$lstmlm" quantize "$model" -o "${file[$t]}" --type $t --check "$text" \
        --check-tokens "${TOKENS:-5000}" | tee "$out/check-$t.txt"
done
for t in f32 bf16 int8; do
    printf '%-5s file %8.2f MiB, reads %7.2f MiB per token\n' $t \
        "$(echo "$(wc -c < "${file[$t]}") / 1048576" | bc -l)" \
        "$(echo "${bytes[$t]} / 1048576" | bc -l)"
done
OUT=$out/bw "$here/bench/bandwidth.sh" 512 \
    $(for t in f32 bf16 int8; do echo "${bytes[$t]} / 1048576" | bc -l | xargs printf '%.1f '; done) \
    | tee "$out/bandwidth.txt"
echo "== generate --bench, -n $(echo $lens | sed 's/ / and -n /'), best of $rounds alternating runs"
declare -A best
for th in 1 2; do
    for r in $(seq "$rounds"); do
        for n in $lens; do
            for t in f32 bf16 int8; do
                s=$("$lstmlm" generate "${file[$t]}" -p "the" -n "$n" --seed $r --threads $th \
                    --bench 2>&1 >/dev/null | sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p')
                k=$t/$th/$n
                if [ -z "${best[$k]:-}" ] || awk -v a="$s" -v b="${best[$k]}" 'BEGIN { exit !(a > b) }'; then
                    best[$k]=$s
                fi
            done
        done
    done
done
for n in $lens; do
    cache=$(cache_of "$n")
    echo "-n $n:"
    for th in 1 2; do
        for t in f32 bf16 int8; do
            mib=$(echo "${bytes[$t]} / 1048576" | bc -l | xargs printf '%.1f')
            # The probe's best pass and its sustained rate (bench/bandwidth.c).
            read -r bw sus < <(awk -v m="$mib" -v th=$th '$1 == m && $3 == th {
                for (i = 6; i < NF; i++) if ($i == "sustained") s = $(i + 1)
                print $5, s; exit }' "$out/bandwidth.txt")
            bw=${bw:-0}
            sus=${sus:-0}
            tps=${best[$t/$th/$n]}
            awk -v t=$t -v th=$th -v tps="$tps" -v b="${bytes[$t]}" -v bw="$bw" -v sus="$sus" \
                -v c="$cache" 'function pc(x, y) { return y > 0 ? 100 * x / y : 0 } BEGIN {
                gbs = tps * b / 1e9
                printf "%-5s %d thread%s: %8.1f tokens/s = %6.2f GB/s of weights, %5.1f%% of %.1f GB/s (best pass), %5.1f%% of %.1f (sustained)",
                    t, th, (th > 1 ? "s" : " "), tps, gbs, pc(gbs, bw), bw, pc(gbs, sus), sus
                if (c > 0) {
                    wc = tps * (b + c) / 1e9
                    printf "; with the cache (%.2f MiB a step) %.1f%% / %.1f%%", c / 1048576,
                        pc(wc, bw), pc(wc, sus)
                }
                printf "\n" }'
        done
    done
done
