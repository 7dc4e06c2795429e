// The table bench/peers/run.sh prints: medians over the rounds of errand's
// postgres_runner_bench (its JSON output, errand-*.json) and of the peer
// drivers (their JSON lines, peers.jsonl), all in one results directory.
//
//   node report.mjs RESULTS_DIR

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node report.mjs RESULTS_DIR");
  process.exit(2);
}

// One record per measured run: { system, config, workload, rate }.
function errandRecords(file) {
  const { benchmarks } = JSON.parse(readFileSync(file, "utf8"));
  return benchmarks
    .filter((b) => b.run_type === "iteration" && !b.error_occurred)
    .map((b) => {
      const [workload, kind, ...rest] = b.run_name.split("/").filter((part) => !/^(iterations:\d+|real_time)$/.test(part));
      if (workload === "enqueue") {
        const payload = /payload:(\w+)/.exec(rest.join("/"));
        const config = payload ? `enqueue_batch, payload: ${payload[1]}` : "enqueue_batch";
        return { system: "errand", config, workload, rate: b.items_per_second };
      }
      // drain/processes:3/runner/<options>: a runner in each of 3 processes.
      const processes = /^processes:(\d+)$/.exec(kind);
      const config =
        kind === "store_batch"
          ? "store batch API (2 threads, batch 500)"
          : processes
            ? `runner, ${rest.slice(1).join("/")} (${processes[1]} processes)`
            : `runner, ${rest.join("/")}`;
      return { system: "errand", config, workload, rate: b.items_per_second };
    });
}

const files = readdirSync(dir);
const records = [
  ...files.filter((f) => /^errand-.*\.json$/.test(f)).flatMap((f) => errandRecords(join(dir, f))),
  ...files
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line)),
    ),
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// rates[system|config][workload] = [rate, ...]
const rates = new Map();
for (const r of records) {
  const key = `${r.system}|${r.config}`;
  if (!rates.has(key)) rates.set(key, {});
  (rates.get(key)[r.workload] ??= []).push(r.rate);
}
const medianOf = (key, workload) => {
  const values = rates.get(key)?.[workload];
  return values ? median(values) : undefined;
};

function count(rate) {
  if (rate === undefined) return "–";
  if (rate >= 100000) return `${Math.round(rate / 1000)}k`;
  if (rate >= 10000) return `${(rate / 1000).toFixed(1)}k`;
  if (rate >= 1000) return `${(rate / 1000).toFixed(2)}k`;
  return `${Math.round(rate)}`;
}
const cell = (key, workload) => {
  const values = rates.get(key)?.[workload];
  if (!values) return "–";
  if (values.length === 1) return count(values[0]);
  return `${count(median(values))} (${count(Math.min(...values))}–${count(Math.max(...values))})`;
};
const ratio = (a, b) => (a === undefined || b === undefined ? "–" : `${(a / b).toFixed(2)}×`);

const drainKeys = [...rates.keys()].filter((k) => rates.get(k).drain || rates.get(k).fail_once);
const enqueueKeys = [...rates.keys()].filter((k) => rates.get(k).enqueue);
const runnerKeys = drainKeys.filter((k) => k.startsWith("errand|runner"));
const peerKeys = drainKeys.filter((k) => !k.startsWith("errand|"));
const batchKey = "errand|store batch API (2 threads, batch 500)";
const label = (key) => key.replace("|", ": ");

const rounds = Math.max(...[...rates.values()].flatMap((w) => Object.values(w).map((v) => v.length)));
console.log(`Jobs per second, median of ${rounds} round${rounds === 1 ? "" : "s"} (lowest–highest):\n`);
console.log("| queue: configuration | all succeed | fail once: first attempts | fail once, retried at once |");
console.log("|---|---|---|---|");
for (const key of drainKeys)
  console.log(`| ${label(key)} | ${cell(key, "drain")} | ${cell(key, "fail_once")} | ${cell(key, "retry_now")} |`);

console.log("\nEnqueue, 5,000 jobs per call:\n");
console.log("| queue: call | jobs/s |");
console.log("|---|---|");
for (const key of enqueueKeys) console.log(`| ${label(key)} | ${cell(key, "enqueue")} |`);

for (const [workload, title] of [
  ["drain", "all succeed"],
  ["fail_once", "fail once: first attempts"],
]) {
  console.log(`\nerrand's runner / each peer and / the store's batch API, ${title} (ratio of medians):\n`);
  console.log(`| errand runner | ${[...peerKeys, batchKey].map(label).join(" | ")} |`);
  console.log(`|---|${[...peerKeys, batchKey].map(() => "---").join("|")}|`);
  for (const key of runnerKeys) {
    const mine = medianOf(key, workload);
    console.log(
      `| ${key.replace("errand|runner, ", "")} | ${[...peerKeys, batchKey].map((peer) => ratio(mine, medianOf(peer, workload))).join(" | ")} |`,
    );
  }
}

console.log("\nerrand, fail once retried at once / all succeed (ratio of medians):\n");
console.log("| errand | retried at once / all succeed |");
console.log("|---|---|");
for (const key of [...runnerKeys, batchKey])
  console.log(`| ${label(key)} | ${ratio(medianOf(key, "retry_now"), medianOf(key, "drain"))} |`);
