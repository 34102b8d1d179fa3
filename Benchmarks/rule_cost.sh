#!/usr/bin/env bash
# What rules cost per property, as a user pays it: the CPU time of
# `onced apply --dry-run` with a rule set minus without any, per property —
# beside the raw Lua C-API call of the same property hook with no hook set
# (lua_hook_baseline: the floor Lua itself sets). Rule sets: a trivial rule,
# the normalize rule, and the six shipped rules together (no raw figure: they
# are six hooks, patterns and a request hook). Five interleaved rounds, best
# of each, in one run. Then the same ratio in exact instruction counts.
set -euo pipefail
cd "$(dirname "$0")"
lines=${LINES_COUNT:-20000}
per_line=20
(cd .. && swift build -c release --product onced >/dev/null)
mkdir -p out
cc -O2 -o out/lua_hook_baseline c/lua_hook_baseline.c -llua5.4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$lines" "$per_line" > "$work/lines.jsonl" <<'PY'
import sys
lines, per_line = int(sys.argv[1]), int(sys.argv[2])
values = [" Cohort 2024 Q1 ", "cohort_a", "COHORT_B", "cohort c"]
for index in range(lines):
    props = ", ".join('"cohort_%d": "%s"' % (p, values[(index + p) % 4]) for p in range(per_line))
    print('{"workspace": "FY12345678", "version": "live", "distinct_id": "user-%d", "$once": {%s}}' % (index, props))
PY
properties=$((lines * per_line))
mkdir -p "$work/none" "$work/trivial" "$work/normalize"
cp rules/trivial.lua "$work/trivial/"
cp rules/normalize.lua "$work/normalize/"

# CPU seconds (user + system) of one dry run.
cpu() {
    local TIMEFORMAT='%3U %3S'
    { time ../.build/release/onced apply --dry-run --rules "$1" < "$work/lines.jsonl" > /dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }'
}
minimum() { printf '%s\n' "$@" | sort -g | head -1; }

none=() trivial=() normalize=() shipped=() raw_trivial=() raw_normalize=()
for _ in 1 2 3 4 5; do
    none+=("$(cpu "$work/none")")
    trivial+=("$(cpu "$work/trivial")")
    normalize+=("$(cpu "$work/normalize")")
    shipped+=("$(cpu ../rules)")
    raw_trivial+=("$(out/lua_hook_baseline rules/trivial.lua 1000000)")
    raw_normalize+=("$(out/lua_hook_baseline rules/normalize.lua 1000000)")
done
awk -v p="$properties" -v n="$(minimum "${none[@]}")" -v t="$(minimum "${trivial[@]}")" -v z="$(minimum "${normalize[@]}")" \
    -v s="$(minimum "${shipped[@]}")" -v rt="$(minimum "${raw_trivial[@]}")" -v rz="$(minimum "${raw_normalize[@]}")" 'BEGIN {
    printf "dry run without rules: %.2f s CPU for %d properties (%.0f ns each)\n", n, p, n * 1e9 / p
    et = (t - n) * 1e9 / p; ez = (z - n) * 1e9 / p; es = (s - n) * 1e9 / p
    printf "%-14s engine %7.1f ns/property | raw C API, no hook %7.1f ns (%.2fx; goal <= 2.5x)\n", "trivial", et, rt, et / rt
    printf "%-14s engine %7.1f ns/property | raw C API, no hook %7.1f ns (%.2fx; goal <= 1.5x)\n", "normalize", ez, rz, ez / rz
    printf "%-14s engine %7.1f ns/property\n", "shipped six", es
}'

# The same ratio counted exactly, whatever else the machine does: instructions
# (valgrind's callgrind) of the chain alone (`rule-chain`: RuleSet.apply over
# decoded lines, two rounds minus one, so loading the file cancels out) with a
# rule minus without, per property, beside the raw call's instructions.
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
{
    swift build -c release --product rule-chain >/dev/null
    # valgrind 3.19 cannot read Swift's DWARF 5; the symbols are enough.
    objcopy --strip-debug .build/release/rule-chain "$work/rule-chain"
    objcopy --strip-debug out/lua_hook_baseline "$work/lua_hook_baseline"
    head -200 "$work/lines.jsonl" > "$work/sample.jsonl"
    instructions() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ { print $4 }'; }
    chain() { echo $(( ($(instructions "$work/rule-chain" "$1" "$work/sample.jsonl" 3) - $(instructions "$work/rule-chain" "$1" "$work/sample.jsonl" 1)) / (2 * 200 * per_line) )); }
    raw() { echo $(( ($(instructions "$work/lua_hook_baseline" "$1" 101000) - $(instructions "$work/lua_hook_baseline" "$1" 1000)) / 100000 )); }
    base=$(chain "$work/none")
    for rule in trivial normalize; do
        goal=$([[ $rule == trivial ]] && echo 2.5 || echo 1.5)
        awk -v r="$rule" -v c="$(( $(chain "$work/$rule") - base ))" -v w="$(raw "rules/$rule.lua")" -v g="$goal" 'BEGIN {
            printf "%-14s chain %6d instructions/property | raw C API, no hook %6d (%.2fx; goal <= %sx)\n", r, c, w, c / w, g }'
    done
}
