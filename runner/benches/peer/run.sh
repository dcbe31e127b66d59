#!/usr/bin/env bash
# Peer benchmark (issue 13): dlt's `rest_api` source versus `runner sync --all` on the same job:
# the DrChrono simulator at 10,000 patients with no rate limit, the same PostgreSQL server, one
# backfill and one re-run with no upstream change (dlt: the same pipeline again; runner: --full).
# Prints wall time, peak RSS, CPU (user + system) and API requests of each run, the CPU the
# simulator and the PostgreSQL server spent on it (when the server is local), and the ratios.
#
#   runner/benches/peer/run.sh            # from the repository root
#
# Environment: PEER_PG (default postgres://postgres@127.0.0.1:5432), PEER_PATIENTS (10000),
# PEER_WORK (a temporary dir), PEER_DLT_CREDENTIALS (dlt's URL of the peer_dlt database on the
# same server, with a password), RUNNER_SYNC_ARGS (extra `runner sync` flags, default
# "--parallel 3"), DLT_SPEC (the pip requirement, default "dlt[postgres]==1.31.0").
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
pg=${PEER_PG:-postgres://postgres@127.0.0.1:5432}
patients=${PEER_PATIENTS:-10000}
dlt_spec=${DLT_SPEC:-dlt[postgres]==1.31.0}
work=${PEER_WORK:-$(mktemp -d -t peer-bench.XXXXXX)}
target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$work"

echo "== building runner and sim (release)" >&2
(cd "$repo" && cargo build --release -q -p runner -p sim)
runner_bin=$target/release/runner
sim_bin=$target/release/sim

if [[ ! -x $work/venv/bin/python ]]; then
    echo "== installing $dlt_spec into a throwaway venv ($work/venv)" >&2
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q "$dlt_spec"
fi
dlt_version=$("$work/venv/bin/python" -c 'import dlt; print(dlt.__version__)')

sim_log=$work/sim.log
"$sim_bin" drchrono --patients "$patients" --seed 7 --no-rate-limit >"$sim_log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    sim_url=$(sed -n 's/^DrChrono sim listening on //p' "$sim_log")
    [[ -n $sim_url ]] && break
    sleep 0.1
done
[[ -n ${sim_url:-} ]] || { echo "the simulator did not start: $(cat "$sim_log")" >&2; exit 1; }

psql_admin() { psql -q -X "$pg/postgres" -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }
for db in peer_dlt peer_runner; do
    psql_admin "drop database if exists $db with (force)"
    psql_admin "create database $db"
done

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
requests() { curl -fsS "$sim_url/_sim/stats" | json_field "['requests_total']"; }
reset_stats() { curl -fsS -X POST "$sim_url/_sim/stats/reset" >/dev/null; }

# CPU seconds a process and its reaped children have used (the postmaster reaps every
# backend, so after a run its figure holds the server's work); "0" when it is not local.
cpu_of() {
    python3 - "$1" <<'PY'
import os, sys
try:
    f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
    print(sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK"))
except (OSError, ValueError):
    print(0)
PY
}
# The postmaster: the parent of the checkpointer, on a server of this machine.
checkpointer=$(psql -X -t -A "$pg/postgres" -c "select pid from pg_stat_activity where backend_type = 'checkpointer'")
pg_pid=$(awk '{print $4}' "/proc/$checkpointer/stat" 2>/dev/null || echo 0)

# One measured run: wall s, peak RSS MB, CPU s, requests, simulator CPU s, PostgreSQL CPU s;
# the command's output goes to $work.
measure() {
    local name=$1; shift
    reset_stats
    local sim0 pg0
    sim0=$(cpu_of "$sim_pid")
    pg0=$(cpu_of "$pg_pid")
    /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>&1 || {
        echo "$name failed:" >&2; tail -20 "$work/$name.out" >&2; exit 1; }
    sleep 1  # the server reaps the run's backends
    local t=$work/$name.time
    python3 - "$t" "$(requests)" "$sim0" "$(cpu_of "$sim_pid")" "$pg0" "$(cpu_of "$pg_pid")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def field(label):
    return re.search(re.escape(label) + r": (.*)", text).group(1).strip()
wall = 0.0
for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
    wall = wall * 60 + float(part)
rss = int(field("Maximum resident set size (kbytes)")) / 1024
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
sim = float(sys.argv[4]) - float(sys.argv[3])
pg = float(sys.argv[6]) - float(sys.argv[5])
print(f"{wall:.2f} {rss:.1f} {cpu:.2f} {sys.argv[2]} {sim:.2f} {pg:.2f}")
PY
}

token=$(curl -fsS -X POST "$sim_url/o/token/" \
    -d grant_type=refresh_token -d refresh_token=sim-refresh-token \
    -d client_id=sim-client-id -d client_secret=sim-client-secret | json_field "['access_token']")

echo "== dlt $dlt_version: backfill, then the same run again" >&2
export SIM_URL=$sim_url SIM_TOKEN=$token DLT_PIPELINES_DIR=$work/dlt-pipelines
# dlt insists on a password; a server with trust auth (as the tests use) ignores it.
export DESTINATION__POSTGRES__CREDENTIALS=${PEER_DLT_CREDENTIALS:-postgresql://postgres:trust@127.0.0.1:5432/peer_dlt}
export RUNTIME__LOG_LEVEL=WARNING
rm -rf "$DLT_PIPELINES_DIR"
dlt1=$(measure dlt-backfill "$work/venv/bin/python" "$repo/runner/benches/peer/dlt_pipeline.py")
dlt2=$(measure dlt-rerun "$work/venv/bin/python" "$repo/runner/benches/peer/dlt_pipeline.py")

# The shipped config, with the DrChrono budget off (the simulator has no rate limit either).
config=$work/config
rm -rf "$config"
mkdir -p "$config"
cp -r "$repo/pipelines" "$repo/mappings" "$config/"
python3 - "$config/pipelines/systems.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"\n  rate:\n(    .*\n)+", "\n  rate: []\n", s, count=1)
open(p, "w").write(s)
PY

refresh=$(curl -fsS "$sim_url/_sim/tokens" | json_field "['refresh_token']")
export DATABASE_URL=$pg/peer_runner DRCHRONO_BASE_URL=$sim_url \
    DRCHRONO_CLIENT_ID=sim-client-id DRCHRONO_CLIENT_SECRET=sim-client-secret \
    DRCHRONO_REFRESH_TOKEN=$refresh DRCHRONO_WEBHOOK_SECRET=peer \
    TOKEN_ENCRYPTION_KEY=ZmFrZS10ZXN0LWtleS1mb3ItdG9rZW5zLTMyLWJ5dGU= \
    RUST_LOG=warn CI=1
"$runner_bin" migrate >/dev/null
echo "== runner: sync --all, then sync --all --full" >&2
run1=$(measure runner-backfill "$runner_bin" --config-dir "$config" sync --all ${RUNNER_SYNC_ARGS:---parallel 3})
run2=$(measure runner-rerun "$runner_bin" --config-dir "$config" sync --all --full ${RUNNER_SYNC_ARGS:---parallel 3})

rows() { psql -X -t -A "$pg/$1" -c "$2"; }
dlt_rows=$(rows peer_dlt "select (select count(*) from drchrono.patients) + (select count(*) from drchrono.appointments) + (select count(*) from drchrono.clinical_notes) + (select count(*) from drchrono.medications) + (select count(*) from drchrono.problems) + (select count(*) from drchrono.allergies) + (select count(*) from drchrono.line_items)")
our_rows=$(rows peer_runner "select (select count(*) from patients) + (select count(*) from appointments) + (select count(*) from clinical_notes) + (select count(*) from medications) + (select count(*) from problems) + (select count(*) from allergies) + (select count(*) from line_items)")
audit=$(rows peer_runner "select count(*) from change_log")

python3 - "$dlt_version" "$patients" "$dlt_rows" "$our_rows" "$audit" "$dlt1" "$dlt2" "$run1" "$run2" <<'PY'
import sys
version, patients, dlt_rows, our_rows, audit = sys.argv[1:6]
runs = [list(map(float, a.split())) for a in sys.argv[6:10]]
d1, d2, r1, r2 = runs
print(f"peer       dlt {version} rest_api (postgres merge, nested as jsonb) vs runner sync --all")
print(f"  {patients} patients; records in the 7 clinical tables: dlt {dlt_rows}, runner {our_rows}"
      f" (runner audit rows: {audit})")
print(f"  {'':24}{'wall s':>9}{'peak RSS MB':>13}{'CPU s':>9}{'requests':>10}"
      f"{'sim CPU s':>11}{'PG CPU s':>10}")
for name, r in [("dlt backfill", d1), ("runner backfill", r1), ("dlt second run", d2),
                ("runner full re-run", r2)]:
    print(f"  {name:24}{r[0]:>9.2f}{r[1]:>13.1f}{r[2]:>9.2f}{int(r[3]):>10}{r[4]:>11.2f}{r[5]:>10.2f}")
print(f"  backfill wall  {r1[0] / d1[0]:.2f}x dlt (target <= 0.50)")
print(f"  peak RSS       {r1[1] / d1[1]:.2f}x dlt (target <= 0.25)")
print(f"  CPU            {r1[2] / d1[2]:.2f}x dlt")
print(f"  re-run wall    {r2[0] / d2[0]:.2f}x dlt's second run (target <= 0.30)")
PY
