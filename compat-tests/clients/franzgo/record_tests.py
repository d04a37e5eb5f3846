#!/usr/bin/env python3
"""Turns `go test -json` (test2json) output of franz-go's pkg/kgo suite into
result rows (franz-go, TestName, PASS|FAIL|SKIP, seconds, reason) appended to
the suite's results.tsv, and writes each failing test's output to
LOGDIR/<TestName>.log.

A test's result is its own "--- PASS/FAIL/SKIP: TestName (N.NNs)" line. Tests
that were still running when the binary hit -test.timeout (listed after
"panic: test timed out") fail with that reason; output after the panic
belongs to no test."""

import json
import os
import re
import sys

events, results, logdir = sys.argv[1], sys.argv[2], sys.argv[3]
status, secs, output, started = {}, {}, {}, []
panic, running = None, []
in_running = False
for line in open(events, encoding="utf-8", errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    test, action, text = e.get("Test"), e.get("Action"), e.get("Output", "")
    if action == "output":
        if text.startswith("panic: "):
            panic = panic or text.strip()
            in_running = False
        if panic:
            if text.strip() == "running tests:":
                in_running = True
            elif in_running and re.match(r"^\t\tTest\w+ \(", text):
                running.append(text.split()[0])
            elif in_running:
                in_running = False
            continue
        m = re.match(r"^--- (PASS|FAIL|SKIP): (Test\w+|Fuzz\w+|Example\w*) \(([\d.]+)s\)", text)
        if m:
            status[m.group(2)] = m.group(1)
            secs[m.group(2)] = float(m.group(3))
    if not test:
        continue
    top = test.split("/")[0]
    if action == "run" and top not in started:
        started.append(top)
    elif action == "output":
        output.setdefault(top, []).append(text)


def reason(test):
    lines = [l.rstrip() for l in output.get(test, [])]
    errs = [l.strip() for l in lines if re.search(r"\w+_test\.go:\d+: ", l) and "NOT DELETING" not in l
            and not re.search(r"_test\.go:\d+: (deleting|created)", l) and " completed in " not in l]
    if status.get(test) == "SKIP":
        return (errs or ["skipped"])[0]
    # For a failure, skip notices of its subtests are not the reason.
    errs = [l for l in errs if "does not support" not in l] or errs
    if errs:
        uniq = list(dict.fromkeys(errs))
        return " | ".join(uniq[:2]) + (" (+%d more)" % (len(uniq) - 2) if len(uniq) > 2 else "")
    other = [l.strip() for l in lines if l.strip() and not l.strip().startswith(("=== ", "--- "))]
    return (other or ["failed without a message"])[0]


with open(results, "a", encoding="utf-8") as out:
    for test in started:
        st, why = status.get(test), ""
        if test in running or (st is None and panic):
            st, why = "FAIL", "still running when the suite hit its time limit (%s)" % panic
            if output.get(test):
                why += "; its last words: " + reason(test)
        elif st is None:
            st, why = "FAIL", "no result: the test binary died; " + reason(test)
        elif st in ("FAIL", "SKIP"):
            why = reason(test)
        if st == "FAIL":
            with open(os.path.join(logdir, test + ".log"), "w", encoding="utf-8") as f:
                f.write("".join(output.get(test, [])))
        why = why.replace("\t", " ").replace("\n", " ")[:400]
        out.write("franz-go\t%s\t%s\t%.1f\t%s\n" % (test, st, secs.get(test, 0.0), why))
