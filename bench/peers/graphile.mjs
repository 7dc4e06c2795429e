// graphile-worker draining N no-op jobs, as bench/peers/run.sh runs it:
//
//   node graphile.mjs POSTGRES_URL JOBS
//
// Configurations: `defaults (concurrency 4)`, graphile-worker's defaults with
// 4 concurrent jobs; `localQueue 500`, the same with its documented batching
// (worker.graphile.org, "Performance"): localQueue.size 500,
// completeJobBatchDelay 0, failJobBatchDelay 0. Workloads, as errand's:
// `drain` (every job succeeds; graphile deletes a finished job) and
// `fail_once` (every first attempt throws; the time until every failure is
// recorded). graphile-worker's retry delay is exp(attempts) seconds and cannot
// be set, so in `fail_once` the jobs have max_attempts 1: the failure is
// written by the same fail_job statement as a retryable one, and no second
// attempt runs inside the timed window. The log is discarded (by default
// graphile-worker logs every job), as errand's benchmark discards its runner's.

import { EventEmitter } from "node:events";

import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";

import { commandLine, counter, dropSchema, enqueueAll, record, seconds, untilDatabaseHolds } from "./common.mjs";

const { url, jobs } = commandLine("graphile.mjs");
const system = "graphile-worker";
const schema = "errand_peer_graphile";
const logger = new Logger(() => () => {});

const configs = {
  "defaults (concurrency 4)": {},
  "localQueue 500": { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } },
};

// What the database holds once every job's outcome is written, as a count that reaches `jobs`.
const outcomes = {
  drain: `SELECT ${jobs} - count(*) AS n FROM ${schema}._private_jobs`,
  fail_once: `SELECT count(*) AS n FROM ${schema}._private_jobs WHERE last_error IS NOT NULL AND locked_at IS NULL`,
};

async function measure(config, workload) {
  await dropSchema(url, schema);
  await runMigrations({ connectionString: url, schema, logger });
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger });
  const spec = workload === "fail_once" ? { identifier: "noop", payload: {}, maxAttempts: 1 } : { identifier: "noop", payload: {} };
  const enqueueSeconds = await enqueueAll(jobs, () => spec, (specs) => utils.addJobs(specs));
  await utils.release();

  const events = new EventEmitter();
  const ended = counter(jobs);
  events.on("job:complete", () => ended.count());
  const started = performance.now();
  const runner = await run({
    connectionString: url,
    schema,
    concurrency: 4,
    noHandleSignals: true,
    logger,
    events,
    taskList: {
      noop: async (_payload, helpers) => {
        if (workload === "fail_once" && helpers.job.attempts === 1) throw new Error("the first attempt fails");
      },
    },
    ...configs[config],
  });
  await ended.done;
  await untilDatabaseHolds(url, outcomes[workload], jobs);
  const elapsed = seconds(started);
  await runner.stop();
  record(system, config, workload, jobs, elapsed);
  return enqueueSeconds;
}

const enqueueSeconds = await measure("defaults (concurrency 4)", "drain");
record(system, "addJobs", "enqueue", jobs, enqueueSeconds);
await measure("localQueue 500", "drain");
await measure("defaults (concurrency 4)", "fail_once");
await measure("localQueue 500", "fail_once");
await dropSchema(url, schema);
