#!/usr/bin/env node
// `node scripts/bench/request-metrics.mjs [--calls N] [--runs N]`: what the request-metrics wrapper
// adds to one broker request. Calls a Produce handler that answers at once (3 partitions, like a
// producer's multi-partition request) with and without instrumentBrokerHandlers, and prints the
// median extra nanoseconds per call over the runs. Needs `pnpm build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../packages/server/dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('bench: the server package is not built; run `pnpm build` first');
  process.exit(1);
}
const { BrokerRequestMetrics, instrumentBrokerHandlers } = await import(dist);
const { Registry } = await import(fileURLToPath(new URL('../../packages/server/node_modules/prom-client/index.js', import.meta.url)));

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const CALLS = arg('--calls', 200_000);
const RUNS = arg('--runs', 5);

const records = Buffer.alloc(16 * 1024);
const request = { transactionalId: '', acks: -1, timeoutMs: 30_000, topics: [{ name: 't', partitions: [0, 1, 2].map((partition) => ({ partition, records })) }] };
const response = { topics: [{ name: 't', partitions: [0, 1, 2].map((partition) => ({ partition, errorCode: 0, errorMessage: '', baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, currentLeaderId: -1, currentLeaderEpoch: -1 })) }] };
const raw = { produce: (_call, callback) => callback(null, response), fetch: () => {}, metadata: () => {}, listOffsets: () => {} };
const instrumented = instrumentBrokerHandlers(raw, new BrokerRequestMetrics(new Registry()));
const call = { request };
let answered = 0;
const done = () => { answered += 1; };

function timeCalls(handlers) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) handlers.produce(call, done);
  return Number(process.hrtime.bigint() - started) / CALLS;
}

timeCalls(raw);
timeCalls(instrumented);
const extra = [];
for (let run = 0; run < RUNS; run++) {
  const plain = timeCalls(raw);
  const wrapped = timeCalls(instrumented);
  extra.push(wrapped - plain);
  console.log(`run ${run + 1}: plain ${plain.toFixed(0)} ns/call, instrumented ${wrapped.toFixed(0)} ns/call`);
}
extra.sort((a, b) => a - b);
console.log(`median extra per request: ${extra[Math.floor(extra.length / 2)].toFixed(0)} ns (${RUNS} runs of ${CALLS} calls; ${answered} answers)`);
