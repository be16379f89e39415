#!/usr/bin/env bash
# The whole paper on one GPU node, measured: the CPU-vs-GPU check, then `all` with the GPU profile
# from a clean results folder, then its wall time, job times per experiment and paper comparison;
# with --placement also which topics' jobs are faster on the GPU (benchmarks/gpu_placement.py).
#
#   bash benchmarks/gpu_node.sh [--out DIR] [--wheels DIR] [--preset paper|quick|smoke]
#                               [--check-deadline-s S] [--all-deadline-s S] [--no-check] [--no-all]
#                               [--check-reference FILE]
#                               [--placement] [--placement-preset P] [--placement-deadline-s S]
#                               [--placement-topics "T ..."] [--placement-base FILE]
#
# Run from the repository root on a machine with PyTorch (CUDA build), pandas, scikit-learn, numba
# and pyyaml. --wheels DIR installs what else the workflow needs (Snakemake and its plugins,
# openTSNE) from wheels in DIR without a network, into DIR/../site on PYTHONPATH. On a machine
# without CUDA it runs the same steps on the CPU (the check then compares the CPU with itself):
# that is how the script itself is tested. Everything it prints is also in OUT/gpu_node.log.
# Its defaults fit 9 minutes: the check within 150 s, `all` within 330 s. --check-reference FILE
# (tables of gpu_check --devices cpu cpu --perturb ulp --save-tables FILE, made beforehand on
# another machine with the same options: with the columns' rounding floors, so a float32 difference
# within them reads ROUNDING) runs the check on the GPU alone against that file, leaving out this
# node's CPU run (half the check's time).
# --placement (off by default) times one job per training topic in fresh processes on the GPU and
# on one core (gpu_placement.py at --placement-preset, default paper: the quick and smoke presets
# do not compile and their jobs are mostly start-up) before `all`, within --placement-deadline-s
# (default 300), and writes OUT/placement/jobs.yaml: profiles/gpu/jobs.yaml (or
# --placement-base, e.g. the jobs.yaml of an earlier call that measured other topics) with
# `gpu: false` for the topics the CPU won. The steps' deadlines add up: to stay within a time
# limit (a lent machine's 9 minutes) leave steps out or shorten them, e.g. --no-check --no-all
# --placement --placement-deadline-s 420, and measure the remaining topics in a later call with
# --placement-topics and --placement-base the jobs.yaml of the call before.
set -uo pipefail
cd "$(dirname "$0")/.."
out=gpu_node_out wheels="" preset=paper check=1 check_deadline=150 all_deadline=330 run_all=1
check_reference=""
placement=0 placement_preset=paper placement_deadline=300 placement_topics="" placement_base=""
while (($#)); do
    case $1 in
        --out) out=$2; shift 2 ;;
        --wheels) wheels=$2; shift 2 ;;
        --preset) preset=$2; shift 2 ;;
        --check-deadline-s) check_deadline=$2; shift 2 ;;
        --all-deadline-s) all_deadline=$2; shift 2 ;;
        --no-check) check=0; shift ;;
        --check-reference) check_reference=$2; shift 2 ;;
        --no-all) run_all=0; shift ;;
        --placement) placement=1; shift ;;
        --placement-preset) placement_preset=$2; shift 2 ;;
        --placement-deadline-s) placement_deadline=$2; shift 2 ;;
        --placement-topics) placement_topics=$2; shift 2 ;;
        --placement-base) placement_base=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "gpu_node.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
for p in "$preset" "$placement_preset"; do
    case $p in paper|quick|smoke) ;; *) echo "gpu_node.sh: a preset must be paper, quick or smoke, not '$p'" >&2; exit 2 ;; esac
done
[[ -z $check_reference || -f $check_reference ]] || { echo "gpu_node.sh: --check-reference $check_reference is not a file" >&2; exit 2; }
[[ -z $check_reference ]] || check_reference=$(cd "$(dirname "$check_reference")" && pwd)/$(basename "$check_reference")
[[ -z $placement_base || -f $placement_base ]] || { echo "gpu_node.sh: --placement-base $placement_base is not a file" >&2; exit 2; }
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
exec > >(tee "$out/gpu_node.log") 2>&1
start=$(date +%s)
if [[ -n $wheels ]]; then
    [[ -d $wheels ]] || { echo "gpu_node.sh: --wheels $wheels is not a folder"; exit 2; }
    site=$(cd "$wheels/.." && pwd)/site
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" "$wheels"/*.whl || exit 1
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$site/bin:$PATH"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 - <<'PY'
import os, platform, torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"== machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}; {gpu}")
PY
cuda=$(python3 -c "import torch; print(int(torch.cuda.is_available()))")

if ((check)); then
    echo "== 1. the same computation on both devices: benchmarks/gpu_check.py (deadline ${check_deadline} s)"
    devices="cpu cuda"; ((cuda)) || devices="cpu cpu"
    check_args=(--out "$out/check" --deadline-s "$check_deadline" --save-tables "$out/check/tables.json.gz")
    if [[ -n $check_reference ]]; then     # this node's GPU (or CPU) alone, against the file
        devices=cuda; ((cuda)) || devices=cpu
        check_args+=(--reference "$check_reference")
    fi
    t0=$(date +%s)
    timeout $((check_deadline + 20)) python3 benchmarks/gpu_check.py "${check_args[@]}" \
        --devices $devices | tail -n 40
    echo "   gpu_check: exit $? after $(($(date +%s) - t0)) s"
fi

if ((placement)); then
    echo "== 1b. which topics use the GPU: benchmarks/gpu_placement.py (preset $placement_preset, deadline ${placement_deadline} s)"
    devices="cpu cuda"; ((cuda)) || devices="cpu cpu"
    t0=$(date +%s)
    placement_args=(--preset "$placement_preset" --devices $devices --deadline-s "$placement_deadline"
                    --out "$out/placement" --write "$out/placement/jobs.yaml")
    [[ -n $placement_topics ]] && placement_args+=(--topics $placement_topics)
    [[ -n $placement_base ]] && placement_args+=(--base "$placement_base")
    timeout $((${placement_deadline%.*} + 60)) python3 benchmarks/gpu_placement.py "${placement_args[@]}" \
        | tail -n 40
    echo "   gpu_placement: exit ${PIPESTATUS[0]} after $(($(date +%s) - t0)) s; the profile it measured: $out/placement/jobs.yaml"
fi

if ((!run_all)); then
    echo "== total $(($(date +%s) - start)) s; outputs in $out (gpu_node.log)"
    exit 0
fi

echo "== 2. snakemake --profile profiles/gpu all (preset $preset), clean results folder"
work="$out/run"
rm -rf "$work" && mkdir -p "$work"
profile=profiles/gpu
((cuda)) || profile=profiles/local      # no GPU: the same run on the cores
t0=$(date +%s)
timeout "$all_deadline" python3 -m snakemake -s Snakefile --directory "$work" --profile "$profile" \
    all --config preset="$preset" --quiet rules > "$out/snakemake.log" 2>&1
status=$?
wall=$(($(date +%s) - t0))
tail -n 5 "$out/snakemake.log"
echo "   all: exit $status after $wall s ($(awk "BEGIN {printf \"%.1f\", $wall / 60}") min)"

results="$work/results"; [[ $preset == paper ]] || results="$work/results/$preset"
python3 - "$results" "$out" <<'PY'
import shutil, sys
from pathlib import Path
import pandas as pd
from mnist1d.pipeline import timing
results, out = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted((results / "timing").glob("*/*.tsv"))
if files:
    jobs = timing.collect(files)
    per = jobs.groupby("experiment").wall_s.agg(jobs="count", total_s="sum", longest_s="max")
    print("== job times per experiment (s)\n" + per.sort_values("total_s", ascending=False)
          .round(1).to_string())
    print(f"   span of the jobs: {jobs.end.max() - jobs.start.min():.0f} s")
for name in ("timeline.png", "timing.csv", "paper_comparison.md"):
    if (results / name).exists():
        shutil.copy(results / name, out / name)
comparison = results / "paper_comparison.csv"
if comparison.exists():
    table = pd.read_csv(comparison)
    print("== paper comparison: " + ", ".join(f"{v} {n}" for v, n in table.verdict.value_counts().items())
          + f" of {len(table)}")
    verdicts = table.groupby(["experiment", "verdict"], sort=False).size().unstack(fill_value=0)
    print(verdicts.to_string())
PY
echo "== total $(($(date +%s) - start)) s; outputs in $out (timeline.png, timing.csv, paper_comparison.md, gpu_node.log)"
exit $status
