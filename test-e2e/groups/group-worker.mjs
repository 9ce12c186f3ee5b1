#!/usr/bin/env node
// A consumer-group member as its own process, so tests can SIGKILL it like a crashed service.
// argv[2] is a JSON config; every event is one JSON line on stdout with the wall-clock time:
//   {"e":"assigned"|"revoked"|"lost","partitions":[[topic,partition],...]}
//   {"e":"commit","offsets":[[topic,partition,offset],...]}
//   {"e":"rec","p":partition,"o":offset,"v":value}   (after processing finished)
//   {"e":"ready"} once subscribed; {"e":"closed"} after a clean close (SIGTERM).
import { Runnel } from '@runnel/client';

const config = JSON.parse(process.argv[2] ?? '{}');
const emit = (event) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
const pairs = (partitions) => partitions.map((p) => [p.topic, p.partition]);

const runnel = new Runnel({ brokers: config.brokers, clientId: config.clientId ?? 'group-worker', requestTimeoutMs: 5_000 });
const consumer = runnel.consumer({
  groupId: config.groupId,
  fromBeginning: true,
  sessionTimeoutMs: config.sessionTimeoutMs ?? 6_000,
  autoCommitIntervalMs: config.autoCommitIntervalMs ?? 500,
});
consumer.on('group.assigned', ({ partitions }) => emit({ e: 'assigned', partitions: pairs(partitions) }));
consumer.on('group.revoked', ({ partitions }) => emit({ e: 'revoked', partitions: pairs(partitions) }));
consumer.on('group.lost', ({ partitions }) => emit({ e: 'lost', partitions: pairs(partitions) }));
consumer.on('group.commit', ({ offsets }) => emit({ e: 'commit', offsets: offsets.map((o) => [o.topic, o.partition, o.offset]) }));
consumer.on('crash', (error) => {
  emit({ e: 'crash', message: String(error?.message ?? error) });
  process.exit(2);
});

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  consumer
    .close()
    .then(() => emit({ e: 'closed' }))
    .finally(() => {
      runnel.close();
      process.exit(0);
    });
});

await consumer.connect();
consumer.subscribe({ topics: config.topics });
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    if (config.processingDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.processingDelayMs));
    emit({ e: 'rec', p: partition, o: message.offset, v: message.value === null ? null : message.value.toString() });
  },
});
emit({ e: 'ready' });
// Bounded life: a worker the test forgot ends by itself.
setTimeout(() => process.exit(3), config.maxLifeMs ?? 180_000).unref();
