// pg-boss draining N no-op jobs, as bench/peers/run.sh runs it:
//
//   node pgboss.mjs POSTGRES_URL JOBS
//
// Configuration `2 workers, batch 500`: one work() with localConcurrency 2 and
// batchSize 500, and burstWhenBatchFull, pg-boss's documented way to fetch
// again at once while batches come back full (without it a worker waits its
// polling interval, 2 s by default, after every fetch). Everything else is
// pg-boss's defaults. Workloads, as errand's: `drain` (every job succeeds) and
// `fail_once` (the handler throws for every batch of first attempts, which
// fails the whole batch; the queue retries once, an hour later, so the time
// is until every first failure is recorded). pg-boss keeps finished jobs, as
// errand does.

import { PgBoss } from "pg-boss";

import { commandLine, counter, dropSchema, enqueueAll, record, seconds, untilDatabaseHolds } from "./common.mjs";

const { url, jobs } = commandLine("pgboss.mjs");
const system = "pg-boss";
const schema = "errand_peer_pgboss";
const queue = "noop";
const config = "2 workers, batch 500";

const queues = { drain: {}, fail_once: { retryLimit: 1, retryDelay: 3600 } };
const outcomes = {
  drain: `SELECT count(*) AS n FROM ${schema}.job WHERE name = '${queue}' AND state = 'completed'`,
  fail_once: `SELECT count(*) AS n FROM ${schema}.job WHERE name = '${queue}' AND state = 'retry'`,
};

async function measure(workload) {
  await dropSchema(url, schema);
  const boss = new PgBoss({ connectionString: url, schema });
  boss.on("error", (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  await boss.createQueue(queue, queues[workload]);
  const enqueueSeconds = await enqueueAll(jobs, () => ({ data: {} }), (specs) => boss.insert(queue, specs));

  const ended = counter(jobs);
  const started = performance.now();
  await boss.work(
    queue,
    { batchSize: 500, localConcurrency: 2, burstWhenBatchFull: true, includeMetadata: workload === "fail_once" },
    async (batch) => {
      ended.count(batch.length);
      if (workload === "fail_once" && batch.some((job) => job.retryCount === 0)) throw new Error("the first attempt fails");
    },
  );
  await ended.done;
  await untilDatabaseHolds(url, outcomes[workload], jobs);
  const elapsed = seconds(started);
  await boss.stop({ graceful: true });
  record(system, config, workload, jobs, elapsed);
  return enqueueSeconds;
}

const enqueueSeconds = await measure("drain");
record(system, "insert", "enqueue", jobs, enqueueSeconds);
await measure("fail_once");
await dropSchema(url, schema);
