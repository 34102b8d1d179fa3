"""Writes N set-once JSONL lines for `onced apply`: 5 properties each, new profiles."""
import sys

count = int(sys.argv[1])
out = sys.stdout
for index in range(count):
    out.write(
        '{"workspace": "FY12345678", "version": "live", "distinct_id": "user-%d", "$once": '
        '{"plan": "pro", "signup_date": "2020-10-01T18:30:00.000Z", "ltv": %d, "vip": %s, "cohort": "cohort_2024_q1"}}\n'
        % (index, index, "true" if index % 2 else "false")
    )
