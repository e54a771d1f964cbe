#!/bin/sh
# mpi.sh - data-parallel `lstmlm train` under Open MPI on one machine (2 ranks on loopback):
# 2 ranks and 1 rank with the same total batch and seed give the same validation perplexities
# (LSTM and RWKV); a 2-rank run interrupted with Ctrl-C resumes to the uninterrupted result
# (with 2 ranks exactly, with 1 rank closely); killing one rank ends the job within seconds
# and leaves the previous model and checkpoint loadable. Without MPI in the build: a launch
# as two processes is refused with a message.
set -u
# Under AddressSanitizer, LeakSanitizer reports Open MPI's own allocations at exit (inside
# libmpi and its plugins, none of ours) and fails the ranks for them: no leak checks here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
: "${LSTMLM_MPIRUN:=}"
tmp=$(mktemp -d /tmp/lstmlm-mpi-XXXXXX)
trap 'rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
finish() { echo "$passes passed, $fails failed"; [ "$fails" = 0 ]; exit $?; }

train="$srcdir/data/dialogues.txt"
valid="$tmp/valid.txt"
tail -n 150 "$train" >"$valid"
common="--valid $valid --hidden 24 --embed 24 --batch 8 --bptt 10 --seed 5 --clip 1 --threads 1 -q"

if [ -z "$LSTMLM_MPIRUN" ]; then
    # Built without MPI: what mpirun would see.
    OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "$LSTMLM" train $common --epochs 1 "$train" \
        -o "$tmp/m.h5" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    check "without MPI: a 2-process launch exits 1 saying so" \
        '[ $rc = 1 ] && grep -q "built without MPI" "$tmp/err" && [ ! -f "$tmp/m.h5" ]'
    finish
fi

# Open MPI as root in CI, on loopback only, processes started locally (no ssh).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm=isolated OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { "$LSTMLM_MPIRUN" --oversubscribe -np "$@"; }
# Background jobs call mpirun directly, so that $! is mpirun and its children the ranks.

# The per-epoch validation perplexities of a checkpoint, full precision.
ppls() { h5dump -w 0 -m %.12g -d /train/history "$1" | awk -F'[:,]' '/^ *\([0-9]+,0\)/ {print $5 + 0}'; }
# Every epoch within a relative 1e-4 (or exactly equal with "exact").
same_ppl() {
    ppls "$1" >"$tmp/a" && ppls "$2" >"$tmp/b" && [ -s "$tmp/a" ] &&
        [ "$(wc -l <"$tmp/a")" = "$(wc -l <"$tmp/b")" ] &&
        paste "$tmp/a" "$tmp/b" | awk -v ex="${3:-}" '{ d = $1 - $2; if (d < 0) d = -d;
            if ((ex == "exact" && d != 0) || d > 1e-4 * $2) { print "epoch " NR ": " $1 " vs " $2; bad = 1 } }
            END { exit bad }'
}
same_params() { h5diff -q "$1" "$2" /params >/dev/null 2>&1; }

for arch in lstm rwkv; do
    opts="--arch $arch --epochs 3"
    [ "$arch" = rwkv ] && opts="$opts --optimizer adam"
    "$LSTMLM" train $common $opts "$train" -o "$tmp/$arch-1.h5" 2>"$tmp/err1"
    mpi 2 "$LSTMLM" train $common $opts "$train" -o "$tmp/$arch-2.h5" >"$tmp/out2" 2>"$tmp/err2"
    rc=$?
    check "$arch: 2 ranks exit 0" '[ $rc = 0 ] || { cat "$tmp/err2"; false; }'
    check "$arch: 2 ranks = 1 rank, validation perplexity per epoch within 1e-4" \
        'same_ppl "$tmp/$arch-1.ckpt.h5" "$tmp/$arch-2.ckpt.h5"'
done

# Ctrl-C mid-run (SIGTERM here: a background job ignores SIGINT; mpirun forwards both): every
# rank stops after the same window; rank 0 writes the checkpoint. Resumed with 2 ranks it equals the uninterrupted run; with 1 rank, closely.
"$LSTMLM_MPIRUN" --oversubscribe -np 2 "$LSTMLM" train $common --epochs 400 "$train" \
    -o "$tmp/i.h5" >/dev/null 2>"$tmp/err" &
job=$!
sleep 2
kill -TERM $job
wait $job
grep -q "interrupted; checkpoint written" "$tmp/err"
check "Ctrl-C under mpirun: the checkpoint is written" '[ $? = 0 ] && [ -f "$tmp/i.ckpt.h5" ]'
done=$(ppls "$tmp/i.ckpt.h5" | wc -l)
check "Ctrl-C came mid-run (after epoch $done)" '[ "$done" -lt 400 ]'
e=$((done + 2))
mpi 2 "$LSTMLM" train --threads 1 -q --epochs $e --resume "$tmp/i.ckpt.h5" "$train" -o "$tmp/r2.h5" \
    2>"$tmp/err"
check "resumed with 2 ranks: exit 0" '[ $? = 0 ] || { cat "$tmp/err"; false; }'
"$LSTMLM" train --threads 1 -q --epochs $e --resume "$tmp/i.ckpt.h5" "$train" -o "$tmp/r1.h5"
mpi 2 "$LSTMLM" train $common --epochs $e "$train" -o "$tmp/u.h5" 2>"$tmp/err"
check "2-rank checkpoint resumed with 2 ranks = uninterrupted 2-rank run" \
    'same_ppl "$tmp/r2.ckpt.h5" "$tmp/u.ckpt.h5" exact && same_params "$tmp/r2.ckpt.h5" "$tmp/u.ckpt.h5"'
check "2-rank checkpoint resumed with 1 rank: perplexities within 1e-4" \
    'same_ppl "$tmp/r1.ckpt.h5" "$tmp/u.ckpt.h5"'

# A rank killed mid-epoch ends the whole job within seconds; what was written still loads.
"$LSTMLM_MPIRUN" --oversubscribe -np 2 "$LSTMLM" train $common --epochs 2000 "$train" \
    -o "$tmp/k.h5" >/dev/null 2>"$tmp/err" &
job=$!
# Kill once the first epoch's model and checkpoint exist (a loaded machine is slow to get
# there), and a little into the next epoch.
for i in $(seq 1 120); do
    [ -f "$tmp/k.h5" ] && [ -f "$tmp/k.ckpt.h5" ] && break
    sleep 0.5
done
sleep 1
victim=$(pgrep -P $job -f "lstmlm" | tail -n 1)
kill -KILL "$victim"
start=$(date +%s)
wait $job
rc=$?
took=$(($(date +%s) - start))
check "killing rank pid $victim ends the job (exit $rc) in ${took}s" '[ $rc != 0 ] && [ $took -le 15 ]'
check "... with a message" 'grep -qi "signal 9\|killed\|aborted" "$tmp/err"'
check "... the model and checkpoint written before still load" \
    '"$LSTMLM" info "$tmp/k.h5" >/dev/null && "$LSTMLM" info "$tmp/k.ckpt.h5" >/dev/null'
finish
