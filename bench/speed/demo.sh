#!/usr/bin/env bash
# The whole embedded-default run from a clean results/ folder: wall time and peak memory (GNU time).
# With --fresh the demo data and model are fetched again too (resources/ removed first).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
[ "${1:-}" = "--fresh" ] && rm -rf resources
rm -rf results
log=$(mktemp)
/usr/bin/time -v snakemake --cores "${CORES:-2}" > "$log.out" 2> "$log" || { tail -30 "$log.out" "$log"; exit 1; }
wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
peak_kb=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
echo "per rule (s, max RSS MB):"
for tsv in $(find results/benchmarks -name '*.tsv' | sort); do
  printf '  %-40s %s\n' "${tsv#results/benchmarks/}" "$(tail -1 "$tsv" | awk '{printf "%8.1f s %8.0f MB", $1, $3}')"
done
echo "per preset (test macro_f1, minority_f1):"
python - <<'PY'
import json, pathlib
for m in sorted(pathlib.Path("results").glob("*/*/eval/metrics.json")) + sorted(pathlib.Path("results/baselines").glob("*/metrics.json")):
    d = json.loads(m.read_text())
    print(f"  {d['preset']:<14} macro_f1 {d['macro_f1']:.3f}  minority_f1 {d['minority_f1']:.3f}  val macro_f1 {d['val']['macro_f1']:.3f}")
print("per training job, by phase (s); fixed cost = the job's wall time less its optimizer steps:")
for s in sorted(pathlib.Path("results/presets").glob("*/train_summary.json")):
    d, job = json.loads(s.read_text()), pathlib.Path(f"results/benchmarks/train/{s.parent.name}.tsv")
    wall = float(job.read_text().splitlines()[-1].split()[0])
    phases = "  ".join(f"{k} {v:.1f}" for k, v in d["phase_seconds"].items())
    print(f"  {d['preset']:<14} job {wall:.1f}: {phases}; start-up and writing {wall - d['seconds']:.1f}; fixed cost {wall - d['phase_seconds']['optimizer steps']:.1f}")
PY
echo "wall time: $wall (target under 15:00)"
echo "peak memory of the largest single process: $((peak_kb / 1024)) MB (target under 4096 MB)"
