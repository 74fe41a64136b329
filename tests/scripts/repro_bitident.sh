#!/bin/bash
# Bit-identity across machines' variables (docs/reproducibility.md, issue 17 item 4):
# every bundled model (models/*.qsm) runs its inputs in fp32 and in int8-static (after a
# calibration on a fixed split), at SIMD levels scalar, avx2 and avx512 (QSCOPE_SIMD,
# read at start-up: one qscope process per level), with threads 1 and 2 and batch 1 and
# 64 (65 samples: at batch 64 a full batch and a batch of one, so a sample's position and
# its batch's size both change). Every run's .npy of outputs must equal the first, byte
# for byte. Then a short `train` and `qat` of mnist_dw (Adam, cosine schedule, KL
# distillation: fmath's exp, log, powers and cos(pi x) all on the path) must save the same
# weights at every level and thread count.
#
# To keep the run short, each level runs two of the four (threads, batch) pairs, chosen so
# that the three levels together run all four and each level changes both threads and
# batch: scalar (1,64) (2,1); avx2 (2,64) (1,1); avx512 (1,64) (2,64). The calibration runs
# at threads 2 under avx512 and at threads 1 elsewhere, so its statistics are compared too.
# Levels above the CPU's are clipped to it (kern/simd.h): on a machine without AVX-512 the
# avx512 process repeats avx2, and the test still holds.
#   repro_bitident.sh QSCOPE BUILD_DIR
set -euo pipefail
qscope=$1 build=$2
synth="$build/tests/qs_synth_npz"
out="$build/repro_bitident"
rm -rf "$out"
mkdir -p "$out"
N=65
MNIST="models/data/mnist_test.npz scale=0.00392156886 n=$N"

# Inputs and calibration split per model (the seeds models/README.md reports with).
"$synth" falls 3 $N "$out/falls.npz" x
"$synth" balls 2 $N "$out/det_balls.npz" x
"$synth" deepsets 22 $N "$out/deepsets.npz" peers,ego
model_input() {
  case $1 in
    mnist_*) echo "$MNIST" ;;
    *) echo "$out/$1.npz" ;;
  esac
}
model_calib() {
  case $1 in
    mnist_*) echo "data calib models/data/mnist_train.npz skip=7000 n=64 scale=0.00392156886" ;;
    falls) echo "data calib synth:falls n=64 seed=2" ;;
    det_balls) echo "data calib synth:balls n=16 seed=3" ;;
    deepsets) echo "data calib synth:deepsets n=64 seed=21" ;;
    *) echo "repro_bitident.sh: no calibration data known for $1" >&2; exit 2 ;;
  esac
}

# The script one level runs: its two (threads, batch) pairs per model and precision.
level_script() {
  local level=$1 pairs cal_threads=1 m in
  case $level in
    scalar) pairs="1,64 2,1" ;;
    avx2) pairs="2,64 1,1" ;;
    avx512) pairs="1,64 2,64" cal_threads=2 ;;
  esac
  for qsm in models/*.qsm; do
    m=$(basename "$qsm" .qsm)
    in=$(model_input "$m")
    echo "load $qsm"
    echo "$(model_calib "$m")"
    for prec in fp32 int8; do
      if [ $prec = int8 ]; then
        echo "mode int8-static"
        echo "set threads=$cal_threads"
        echo "calibrate n=64"
      fi
      for p in $pairs; do
        echo "set threads=${p%,*}"
        echo "set batch=${p#*,}"
        echo "run $in out=$out/${m}_${prec}_${level}_t${p%,*}_b${p#*,}.npy"
      done
    done
  done
  # Training: a few steps of train, then of qat, each saved.
  for t in 1 2; do
    cat <<EOF
load models/mnist_dw.qsm
set threads=$t
data train models/data/mnist_train.npz n=96 scale=0.00392156886
data calib models/data/mnist_train.npz skip=7000 n=32 scale=0.00392156886
train epochs=2 lr=0.003 batch=32 opt=adam schedule=cosine val=calib seed=1
save $out/train_${level}_t$t.qsm
mode int8-static
calibrate n=32
qat epochs=1 lr=0.0001 batch=32 distill=kl T=4 alpha=0.5 seed=1
save $out/qat_${level}_t$t.qsm variant=qat
EOF
  done
}

for level in scalar avx2 avx512; do
  level_script $level >"$out/$level.qs"
  if ! QSCOPE_SIMD=$level "$qscope" --batch "$out/$level.qs" >"$out/$level.log" 2>&1; then
    echo "FAILED: the $level run: $(tail -3 "$out/$level.log")"
    exit 1
  fi
done

# Every file of a group against the group's first.
status=0 groups=0
for qsm in models/*.qsm; do
  m=$(basename "$qsm" .qsm)
  for prec in fp32 int8; do
    set -- "$out/${m}_${prec}"_*.npy
    [ $# = 6 ] || { echo "FAILED: $m $prec: $# output files, expected 6"; status=1; continue; }
    groups=$((groups + 1))
    for f in "$@"; do
      cmp -s "$1" "$f" || { echo "FAILED: $m $prec: $(basename "$f") differs from $(basename "$1")"; status=1; }
    done
    echo "$m $prec: 6 runs, $(sha256sum <"$1" | cut -c1-16)"
  done
done
for what in train qat; do
  set -- "$out/${what}"_*.qsm
  [ $# = 6 ] || { echo "FAILED: $what: $# saved models, expected 6"; status=1; continue; }
  groups=$((groups + 1))
  for f in "$@"; do
    cmp -s "$1" "$f" || { echo "FAILED: $what: $(basename "$f") differs from $(basename "$1")"; status=1; }
  done
  echo "$what (mnist_dw): 6 runs, $(sha256sum <"$1" | cut -c1-16)"
done
[ $status = 0 ] && echo "bit-identical: $groups groups of 6 runs"
exit $status
