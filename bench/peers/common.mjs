// What the peer drivers share: their command line, the clock, a connection
// for the driver's own SQL, and the records they print (one JSON object a
// line, read by report.mjs).
//
// A run measures the way bench/postgres_runner_bench.cpp measures errand: a
// fresh schema, N jobs enqueued before the clock starts, then the clock from
// the worker's start until the database holds every job's outcome (a peer
// announces a job's end before it writes it, so the count of its events only
// says when to start asking the database). Stopping the worker is not timed.

import pg from "pg";

export const enqueuePerCall = 5000;

// node <driver>.mjs URL JOBS
export function commandLine(driver) {
  const [url, jobsText] = process.argv.slice(2);
  const jobs = Number(jobsText);
  if (!url || !Number.isInteger(jobs) || jobs <= 0) {
    console.error(`usage: node ${driver} POSTGRES_URL JOBS`);
    process.exit(2);
  }
  return { url, jobs };
}

export async function withClient(url, body) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(url, schema) {
  await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

export function seconds(since) {
  return (performance.now() - since) / 1000;
}

// Resolves once `count()` has been called `goal` times.
export function counter(goal) {
  let seen = 0;
  let reached;
  const done = new Promise((resolve) => (reached = resolve));
  return {
    count(n = 1) {
      seen += n;
      if (seen >= goal) reached();
    },
    done,
  };
}

// Asks the database until `query` (one row, one column `n`) answers `goal`.
export async function untilDatabaseHolds(url, query, goal) {
  await withClient(url, async (c) => {
    for (;;) {
      const { rows } = await c.query(query);
      if (Number(rows[0].n) >= goal) return;
    }
  });
}

// One measured figure, as report.mjs reads it.
export function record(system, config, workload, jobs, elapsedSeconds) {
  console.log(JSON.stringify({ system, config, workload, jobs, seconds: elapsedSeconds, rate: jobs / elapsedSeconds }));
}

// Enqueues `jobs` specs made by `spec(i)` through `addBatch(specs)`, enqueuePerCall at a time;
// returns the seconds it took.
export async function enqueueAll(jobs, spec, addBatch) {
  const started = performance.now();
  for (let from = 0; from < jobs; from += enqueuePerCall) {
    const size = Math.min(enqueuePerCall, jobs - from);
    await addBatch(Array.from({ length: size }, (_, i) => spec(from + i)));
  }
  return seconds(started);
}
