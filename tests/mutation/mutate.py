#!/usr/bin/env python3
"""Mutation testing for errand: does a small, plausible bug make a test fail?

Each mutation below is one edit a tired developer could make in the core, a
store or the runner. The script copies the tracked files of this repository
into a work directory, configures one build there, and for each mutation:
applies it, builds the test targets it names, runs them (with a timeout, so a
mutation that makes a test hang counts as caught), and restores the file. A
mutation no test catches is a hole in the tests; the script lists them and
exits with status 1.

  tests/mutation/mutate.py                       every mutation
  tests/mutation/mutate.py --only sqlite-prune   the mutations whose name contains the text
  tests/mutation/mutate.py --list                names and descriptions, nothing built
  tests/mutation/mutate.py --postgres            also the mutations that need a PostgreSQL server

Needs what scripts/test.sh installs. The work directory (default
/tmp/errand-mutation) keeps its build between runs, so a second run only
recompiles what each mutation touches.
"""

import argparse
import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]

MEMORY = "backends/memory/include/errand/memory/memory_store.hpp"
MEMORY_TABLE = "backends/memory/include/errand/memory/detail/record_table.hpp"
SQLITE_STATEMENTS = "backends/sqlite/include/errand/sqlite/detail/statements.hpp"
SQLITE_TRANSITIONS = "backends/sqlite/include/errand/sqlite/detail/transitions.hpp"
PG_STATEMENTS = "backends/postgres/include/errand/postgres/detail/statements.hpp"
PG_TRANSITIONS = "backends/postgres/include/errand/postgres/detail/transitions.hpp"
PG_CLAIM = "backends/postgres/include/errand/postgres/detail/claim.hpp"
RUNNER = "include/errand/runner.hpp"
LIFECYCLE = "include/errand/lifecycle.hpp"
DECIDE = "include/errand/decide.hpp"
ERROR_TEXT = "include/errand/error_text.hpp"
RETRY = "include/errand/retry_policy.hpp"

CORE_TESTS = ["decide_test", "lifecycle_test", "lifecycle_property_test", "report_test", "memory_conformance_test"]
MEMORY_TESTS = ["memory_conformance_test", "runner_test", "report_test"]
SQLITE_TESTS = ["sqlite_conformance_test", "sqlite_store_test", "sqlite_bad_input_test"]
RUNNER_TESTS = ["runner_test", "handler_test", "memory_conformance_test"]
POSTGRES_TESTS = ["postgres_conformance_test", "postgres_store_test"]


@dataclasses.dataclass
class Mutation:
    name: str
    what: str
    path: str
    before: str
    after: str
    tests: list
    needs_postgres: bool = False


MUTATIONS = [
    Mutation("decide-claim-keeps-error", "a claim no longer clears the last attempt's error", LIFECYCLE,
             "    c.next.heartbeat_at = c.now;\n    c.next.last_error.reset();\n",
             "    c.next.heartbeat_at = c.now;\n", CORE_TESTS),
    Mutation("decide-requeue-keeps-error", "an operator's requeue no longer clears the error", LIFECYCLE,
             "    c.next.run_at = c.now;\n    c.next.last_error.reset();\n",
             "    c.next.run_at = c.now;\n", CORE_TESTS),
    Mutation("decide-any-worker", "a report from another worker counts as the holder's", DECIDE,
             "same_worker = row.worker == e.worker;", "same_worker = true;", CORE_TESTS),
    Mutation("decide-any-attempt", "a report for an old attempt counts as the current one's", DECIDE,
             "row.attempt == e.attempt && same_worker", "same_worker", CORE_TESTS),
    Mutation("lifecycle-retry-ignores-retryable", "a non-retryable failure is retried", LIFECYCLE,
             "return e.error.retryable && c.current.attempt < c.current.max_attempts;",
             "return (e.error.retryable || true) && c.current.attempt < c.current.max_attempts;", CORE_TESTS),
    Mutation("lifecycle-one-attempt-too-many", "a job gets one attempt more than max_attempts", LIFECYCLE,
             "return e.error.retryable && c.current.attempt < c.current.max_attempts;",
             "return e.error.retryable && c.current.attempt <= c.current.max_attempts;", CORE_TESTS),
    Mutation("lifecycle-empty-reason", "a failure without a message records an empty reason", LIFECYCLE,
             ": std::string(no_reason_reported);", ": std::string();", CORE_TESTS),
    Mutation("error-text-limit-off-by-one", "text exactly at the limit is truncated", ERROR_TEXT,
             "if (clean.size() <= limit) return clean;", "if (clean.size() < limit) return clean;",
             ["error_text_test"]),
    Mutation("error-text-keeps-nul", "a NUL byte is stored as it is", ERROR_TEXT,
             "      clean += nul_marker;\n", "      clean += '\\0';\n", ["error_text_test", "decide_test"]),
    Mutation("retry-no-cap", "the backoff is not capped", RETRY,
             "const double capped = std::min(raw, static_cast<double>(cap.count()));",
             "const double capped = raw;", ["retry_policy_test"]),
    Mutation("memory-prune-retry-pending", "prune deletes retry_pending jobs too", MEMORY,
             "if (!is_finished(row.state) || row.updated_at >= *request.finished_before) {",
             "if ((!is_finished(row.state) && row.state != job_state::retry_pending) ||\n"
             "            row.updated_at >= *request.finished_before) {",
             MEMORY_TESTS),
    Mutation("memory-expired-boundary", "a lease ending exactly now is not expired", MEMORY,
             "if (std::get<0>(*it) > now) break;", "if (std::get<0>(*it) >= now) break;", MEMORY_TESTS),
    Mutation("memory-no-compare-and-set", "a write ignores the expected version", MEMORY_TABLE,
             "    if (record_traits<D>::version(record->row) != expected) return {write_result::conflict};\n", "",
             MEMORY_TESTS),
    Mutation("memory-claims-running", "a running job is claimable", MEMORY,
             "static bool claimable(const job& row) { return is_claimable(row.state); }",
             "static bool claimable(const job& row) { return !is_finished(row.state); }", MEMORY_TESTS),
    Mutation("sqlite-prune-any-state", "prune drops its state filter", SQLITE_STATEMENTS,
             "\" WHERE state IN \" + sqlite_finished_states() + \" AND updated_at < ?1)\"},\n"
             "        prune_finished_jobs{\"DELETE FROM \" + t.jobs + \" WHERE state IN \" + sqlite_finished_states() +\n"
             "                            \" AND updated_at < ?1\"},",
             "\" WHERE updated_at < ?1)\"},\n"
             "        prune_finished_jobs{\"DELETE FROM \" + t.jobs + \" WHERE updated_at < ?1\"},", SQLITE_TESTS),
    Mutation("sqlite-expired-boundary", "a lease ending exactly now is not expired", SQLITE_STATEMENTS,
             "lease_until <= ?1 ORDER BY lease_until, id", "lease_until < ?1 ORDER BY lease_until, id", SQLITE_TESTS),
    Mutation("sqlite-claim-future", "jobs are claimed before their run_at", SQLITE_STATEMENTS,
             "\" AND run_at <= ?1\"", "\" AND (run_at <= ?1 OR 1)\"", SQLITE_TESTS),
    Mutation("sqlite-no-compare-and-set", "a transition ignores the expected version", SQLITE_TRANSITIONS,
             "\" AND \", version,\n                         \" = \", expected);",
             "\" AND (\", version,\n                         \" = \", expected, \" OR 1)\");", SQLITE_TESTS),
    Mutation("runner-stop-before-timeout-recorded", "the handler is stopped before its timeout is recorded", RUNNER,
             "    std::optional<report_result> written;\n    try {\n"
             "      written = report_held(store_, held_row(a), fail{a->row.attempt, a->worker, std::move(why)}, options_.retry, now);",
             "    a->stop.request_stop();\n    std::optional<report_result> written;\n    try {\n"
             "      written = report_held(store_, held_row(a), fail{a->row.attempt, a->worker, std::move(why)}, options_.retry, now);",
             RUNNER_TESTS),
    Mutation("runner-lost-lease-keeps-running", "a handler whose lease was lost is not stopped", RUNNER,
             "    if (lost) {\n      a->stop.request_stop();\n", "    if (lost) {\n", RUNNER_TESTS),
    Mutation("runner-timeout-ignored", "an attempt past its deadline is left running", RUNNER,
             "        if (now >= a->deadline) {", "        if (false) {", RUNNER_TESTS),
    Mutation("postgres-expired-boundary", "a lease ending exactly now is not expired", PG_STATEMENTS,
             "lease_until <= $1::timestamptz", "lease_until < $1::timestamptz", POSTGRES_TESTS, True),
    Mutation("postgres-no-compare-and-set", "the batch write ignores the expected version", PG_TRANSITIONS,
             '" = i.expected_version", moved_rows(carried)',
             '" = r.", target.version.sql, moved_rows(carried)', POSTGRES_TESTS, True),
    Mutation("postgres-claim-ignores-limits", "the one-statement claim takes jobs of limited queues", PG_CLAIM,
             '" AND NOT (SELECT found FROM limited)', '" AND true', POSTGRES_TESTS, True),
    Mutation("postgres-claim-counts-nothing", "the one-statement claim counts neither the attempt nor the version", PG_CLAIM,
             'concat("r.", c.sql, " + 1")', 'concat("r.", c.sql)',
             POSTGRES_TESTS, True),
]


def run(command, cwd, log, timeout=None):
    with open(log, "a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        try:
            return subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None


def copy_tracked_files(destination):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        target = destination / name
        if not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copy2(source, target)


def main():
    os.environ["CI"] = "true"  # a PostgreSQL test that cannot reach its server fails rather than skips
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", default="/tmp/errand-mutation")
    parser.add_argument("--only", default="")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=120, help="seconds a test may run before it counts as hung")
    args = parser.parse_args()

    chosen = [m for m in MUTATIONS if args.only in m.name and (args.postgres or not m.needs_postgres)]
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {m.what}")
        return 0

    work = pathlib.Path(args.work_dir)
    source, build, log = work / "src", work / "build", work / "mutate.log"
    work.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    copy_tracked_files(source)
    for m in chosen:
        text = (source / m.path).read_text()
        if text.count(m.before) != 1:
            print(f"mutation {m.name}: its text occurs {text.count(m.before)} times in {m.path}; update mutate.py")
            return 2
    if run(["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
            "-DCMAKE_CXX_FLAGS_DEBUG=-O0", "-DERRAND_BUILD_BENCHMARKS=OFF", "-DERRAND_BUILD_EXAMPLES=OFF"],
           work, log) != 0:
        print(f"configure failed; see {log}")
        return 2
    targets = sorted({t for m in chosen for t in m.tests})
    if run(["cmake", "--build", str(build), "--target", *targets], work, log) != 0:
        print(f"the unmutated tests do not build; see {log}")
        return 2
    if run(["ctest", "--test-dir", str(build), "-R", "^(" + "|".join(targets) + ")$", "--timeout",
            str(args.test_timeout)], work, log) != 0:
        print(f"the unmutated tests fail; see {log}")
        return 2

    survivors, stillborn = [], []
    for m in chosen:
        path = source / m.path
        original = path.read_text()
        started = time.monotonic()
        try:
            path.write_text(original.replace(m.before, m.after))
            if run(["cmake", "--build", str(build), "--target", *m.tests], work, log) != 0:
                verdict = "does not compile"
            else:
                status = run(["ctest", "--test-dir", str(build), "-R", "^(" + "|".join(m.tests) + ")$", "--timeout",
                              str(args.test_timeout)], work, log)
                verdict = "SURVIVED" if status == 0 else "caught"
        finally:
            path.write_text(original)
        if verdict == "SURVIVED":
            survivors.append(m)
        elif verdict == "does not compile":
            stillborn.append(m)
        print(f"{verdict:16} {m.name:40} {m.what} ({time.monotonic() - started:.0f} s)", flush=True)
    run(["cmake", "--build", str(build), "--target", *targets], work, log)

    compiled = len(chosen) - len(stillborn)
    print(f"\n{compiled - len(survivors)} of {compiled} mutations caught"
          + (f" ({len(stillborn)} did not compile; fix their text)" if stillborn else ""))
    for m in survivors:
        print(f"survivor: {m.name}: {m.what} ({m.path})")
    return 1 if survivors or stillborn else 0


if __name__ == "__main__":
    sys.exit(main())
