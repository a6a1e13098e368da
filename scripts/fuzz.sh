#!/usr/bin/env bash
# scripts/fuzz.sh run|check|merge TARGET... — the fuzz targets built in
# $FUZZB (default build/fuzz/; make's FUZZ_CMP=1 builds them in
# build/fuzz-cmp/). FUZZ_VALUE_PROFILE=1 runs libFuzzer with
# -use_value_profile=1.
#
#   run     each target for FUZZ_SECONDS (default 60), or for FUZZ_RUNS
#           executions when that is set (a campaign), on its corpus: new
#           inputs go to $FUZZB/corpus/<t>, the checked-in
#           tests/fuzz/corpus/<t> is only read. Prints per target the
#           executions, exec/s and coverage from libFuzzer's final stats;
#           the full output is in $FUZZB/<t>.log, a crashing input in
#           $FUZZB/artifacts/<t>/. Exits 1 if any target crashed.
#   check   replays every checked-in input of every target once and writes
#           "fuzz: N targets, M inputs replayed, K crashes" to
#           build/summary-fuzz.txt. A crash names its input and the first
#           line of its report, and the replay goes on with the next input.
#           Exits 1 if anything crashed.
#   merge   adds to the checked-in tests/fuzz/corpus/<t> the inputs of
#           $FUZZB/corpus/<t> that reach coverage it lacks (libFuzzer's
#           -merge=1), so make test replays what a campaign explored.

set -u
cd "$(dirname "$0")/.."
B=${FUZZB:-build/fuzz}
mode=${1:-}
shift || true
[ "$mode" = run ] || [ "$mode" = check ] || [ "$mode" = merge ] || {
    echo "usage: scripts/fuzz.sh run|check|merge TARGET..." >&2
    exit 2
}

# Inputs bigger than libFuzzer's default 4096 bytes: PCI configuration space.
max_len() {
    case "$1" in pci) echo 8192 ;; *) echo 4096 ;; esac
}

# The first line saying what went wrong in a libFuzzer / sanitizer report.
first_error() {
    grep -m1 -E 'PROPERTY VIOLATED|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|ERROR: LeakSanitizer' "$1" |
        sed 's/^==[0-9]*==//'
}

run_target() {
    local t=$1 bin=$B/fuzz_$1 log=$B/$1.log
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
    local -a bound=(-max_total_time="${FUZZ_SECONDS:-60}")
    [ -n "${FUZZ_RUNS:-}" ] && bound=(-runs="$FUZZ_RUNS")
    [ "${FUZZ_VALUE_PROFILE:-}" = 1 ] && bound+=(-use_value_profile=1)
    "$bin" "${bound[@]}" -print_final_stats=1 -timeout=10 \
        -max_len="$(max_len "$t")" -artifact_prefix="$B/artifacts/$t/" \
        "$B/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    local rc=$?
    local execs rate cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $t: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
            "$(ls "$B/corpus/$t" | wc -l) inputs found so far in $B/corpus/$t"
        return 0
    fi
    echo "fuzz $t: CRASH after ${execs:-?} executions: $(first_error "$log")"
    echo "fuzz $t:   input: $(ls -t "$B/artifacts/$t" | head -n 1 | sed "s|^|$B/artifacts/$t/|"), log: $log"
    return 1
}

# Replay the inputs given, one process for as many as it gets through; on a
# crash, note the input that was running and go on after it.
check_target() {
    local t=$1 bin=$B/fuzz_$1 log=$B/$1.check.log
    local -a files
    mapfile -t files < <(find "tests/fuzz/corpus/$t" -type f | sort)
    replayed=$((replayed + ${#files[@]}))
    local i=0
    while [ "$i" -lt "${#files[@]}" ]; do
        if "$bin" -timeout=10 "${files[@]:$i}" >"$log" 2>&1; then
            return 0
        fi
        local bad
        bad=$(sed -n 's/^Running: //p' "$log" | tail -n 1)
        crashes=$((crashes + 1))
        echo "fuzz $t: CRASH on $bad: $(first_error "$log")"
        local k=$i
        while [ "$k" -lt "${#files[@]}" ] && [ "${files[$k]}" != "$bad" ]; do k=$((k + 1)); done
        [ "$k" -lt "${#files[@]}" ] || return 0   # not found: do not loop
        i=$((k + 1))
    done
}

merge_target() {
    local t=$1 before after
    before=$(ls "tests/fuzz/corpus/$t" | wc -l)
    local -a vp=()
    [ "${FUZZ_VALUE_PROFILE:-}" = 1 ] && vp=(-use_value_profile=1)
    "$B/fuzz_$t" -merge=1 "${vp[@]}" -timeout=10 -max_len="$(max_len "$t")" \
        "tests/fuzz/corpus/$t" "$B/corpus/$t" >"$B/$t.merge.log" 2>&1 || {
        echo "fuzz $t: merge failed, see $B/$t.merge.log"
        return 1
    }
    after=$(ls "tests/fuzz/corpus/$t" | wc -l)
    echo "fuzz $t: $((after - before)) inputs added to tests/fuzz/corpus/$t ($after in all)"
}

status=0
if [ "$mode" = merge ]; then
    for t in "$@"; do
        merge_target "$t" || status=1
    done
    exit $status
fi
if [ "$mode" = run ]; then
    for t in "$@"; do
        run_target "$t" || status=1
    done
    exit $status
fi

replayed=0
crashes=0
for t in "$@"; do
    check_target "$t"
done
mkdir -p build
line="fuzz: $# targets, $replayed inputs replayed, $crashes crashes"
echo "$line" | tee build/summary-fuzz.txt
[ "$crashes" -eq 0 ]
