#!/usr/bin/env bash
# What shadow rules (SPEC §10) cost per write, beside what the live rules cost:
# 1. exact instruction counts (callgrind) of one comparison as the shadow worker
#    makes it, beside the shadow chain alone, for a candidate set that agrees with
#    the live one and for one that differs on every write (no cohort rule);
# 2. `onced serve` under wrk, interleaved: no rules, the shipped rules, and the
#    shipped rules with each candidate in shadow — req/s, CPU per request by
#    thread group, and how many writes were compared or skipped.
set -euo pipefail
cd "$(dirname "$0")"
(cd .. && swift build -c release --product onced >/dev/null)
swift build -c release --product shadow-cost >/dev/null
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/empty" "$work/no-cohorts"
cp ../rules/*.lua "$work/no-cohorts/" && rm "$work/no-cohorts/20-cohorts.lua"
# The wrk request's shape: the cohort needs the cohort rule's normalization.
python3 gen_lines.py 200 | sed 's/"cohort": "cohort_2024_q1"/"cohort": " Cohort 2024 Q1 "/' > "$work/lines.jsonl"

# valgrind 3.19 cannot read Swift's DWARF 5; the symbols are enough.
objcopy --strip-debug .build/release/shadow-cost "$work/shadow-cost"
instructions() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ { print $4 }'; }
per_request() {  # three rounds minus one, over 200 requests: two rounds of the loop
    echo $(( ($(instructions "$work/shadow-cost" ../rules "$1" "$work/lines.jsonl" "$2" 3)
             - $(instructions "$work/shadow-cost" ../rules "$1" "$work/lines.jsonl" "$2" 1)) / 400 ))
}
for candidate in ../rules "$work/no-cohorts"; do
    label=$([[ $candidate == ../rules ]] && echo "the same rules (agrees)" || echo "no cohort rule (differs)")
    chain=$(per_request "$candidate" chain) compare=$(per_request "$candidate" compare)
    awk -v l="$label" -v c="$chain" -v m="$compare" 'BEGIN {
        printf "shadow %-26s comparison %7d instructions/write | its chain alone %7d (%.2fx)\n", l, m, c, m / c }'
done

./serve_ab.sh -r "${ROUNDS:-2}" -s "${SECONDS_PER_RUN:-10}" \
    "../.build/release/onced:$work/empty" ../.build/release/onced:../rules \
    "../.build/release/onced:../rules:../rules" "../.build/release/onced:../rules:$work/no-cohorts"
