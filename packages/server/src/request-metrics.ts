// Request metrics at the broker's gRPC service layer: a wrapper around the Broker handlers that
// counts each Produce / Fetch / Metadata / ListOffsets call, observes its latency, and counts the
// Kafka error codes in its answer. Per request it costs one clock read, a histogram observe and a
// walk over the answer's partitions (never its records); label children are resolved once, not per
// call. Fetch latency includes the long-poll wait (max_wait_ms), as Kafka's FetchConsumer time does.
import * as grpc from '@grpc/grpc-js';
import { errorInfo } from '@runnel/protocol';
import { withPipelines } from '@runnel/broker';
import type { BrokerServiceHandlers, FetchRequest, FetchResponse, ListOffsetsResponse, ProduceRequest, ProduceResponse } from '@runnel/protocol';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** The request label: fetch is split by who asks, since a follower's long poll is not a consumer's. */
export type RequestKind = 'produce' | 'fetch_consumer' | 'fetch_replica' | 'metadata' | 'list_offsets';
const REQUEST_KINDS: readonly RequestKind[] = ['produce', 'fetch_consumer', 'fetch_replica', 'metadata', 'list_offsets'];

/** Seconds: from sub-millisecond metadata answers to long polls and acks=all waits of several seconds. */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface KindMetrics {
  readonly requests: Counter.Internal;
  readonly latency: Histogram.Internal<'request'>;
  readonly bytes: Counter.Internal | undefined;
  readonly errorsByCode: Map<number, Counter.Internal>;
}

export class BrokerRequestMetrics {
  private readonly errors: Counter<'request' | 'error'>;
  private readonly kinds = new Map<RequestKind, KindMetrics>();

  constructor(registry: Registry) {
    const requests = new Counter({ name: 'runnel_broker_requests_total', help: 'Broker requests answered, by request kind', labelNames: ['request'], registers: [registry] });
    const latency = new Histogram({
      name: 'runnel_broker_request_duration_seconds',
      help: 'Time from receiving a broker request to answering it, by request kind (fetch includes its long-poll wait)',
      labelNames: ['request'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'runnel_broker_request_errors_total',
      help: 'Errors in broker answers, by request kind and Kafka error code name (one per failed partition; GRPC_* for a request refused as a whole)',
      labelNames: ['request', 'error'],
      registers: [registry],
    });
    const bytes = new Counter({
      name: 'runnel_broker_request_records_bytes_total',
      help: 'Record batch bytes received by produce and sent by fetch, by request kind',
      labelNames: ['request'],
      registers: [registry],
    });
    for (const kind of REQUEST_KINDS) {
      // Series exist from the start at zero, so rate() and absent-series alerts work before the first request.
      requests.inc({ request: kind }, 0);
      latency.zero({ request: kind });
      if (kind !== 'metadata' && kind !== 'list_offsets') bytes.inc({ request: kind }, 0);
      this.kinds.set(kind, {
        requests: requests.labels(kind),
        latency: latency.labels(kind),
        bytes: kind === 'metadata' || kind === 'list_offsets' ? undefined : bytes.labels(kind),
        errorsByCode: new Map(),
      });
    }
  }

  private of(kind: RequestKind): KindMetrics {
    return this.kinds.get(kind) as KindMetrics;
  }

  /** One answered request: counted, its latency observed, `bytes` of record batches added. */
  observe(kind: RequestKind, startedAtMs: number, bytes: number): void {
    const metrics = this.of(kind);
    metrics.requests.inc();
    metrics.latency.observe((performance.now() - startedAtMs) / 1_000);
    if (bytes > 0) metrics.bytes?.inc(bytes);
  }

  error(kind: RequestKind, code: number): void {
    const metrics = this.of(kind);
    let child = metrics.errorsByCode.get(code);
    if (child === undefined) {
      child = this.errors.labels(kind, errorInfo(code).name);
      metrics.errorsByCode.set(code, child);
    }
    child.inc();
  }

  grpcError(kind: RequestKind, code: grpc.status | undefined): void {
    this.errors.labels(kind, `GRPC_${code === undefined ? 'UNKNOWN' : (grpc.status[code] ?? String(code))}`).inc();
  }
}

function produceBytes(request: ProduceRequest): number {
  let bytes = 0;
  for (const topic of request.topics) for (const p of topic.partitions) bytes += p.records.length;
  return bytes;
}

function produceErrors(metrics: BrokerRequestMetrics, response: ProduceResponse): void {
  for (const topic of response.topics) for (const p of topic.partitions) if (p.errorCode !== 0) metrics.error('produce', p.errorCode);
}

function fetchAnswer(metrics: BrokerRequestMetrics, kind: RequestKind, response: FetchResponse): number {
  if (response.errorCode !== 0) metrics.error(kind, response.errorCode);
  let bytes = 0;
  for (const topic of response.topics) {
    for (const p of topic.partitions) {
      bytes += p.records.length;
      if (p.errorCode !== 0) metrics.error(kind, p.errorCode);
    }
  }
  return bytes;
}

function listOffsetsErrors(metrics: BrokerRequestMetrics, response: ListOffsetsResponse): void {
  for (const topic of response.topics) for (const p of topic.partitions) if (p.errorCode !== 0) metrics.error('list_offsets', p.errorCode);
}

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** Wraps `handler` so its answer is counted; `onAnswer` returns the record bytes it moved. */
function timed<Req, Res>(
  metrics: BrokerRequestMetrics,
  handler: Unary<Req, Res>,
  kindOf: (request: Req) => RequestKind,
  onAnswer: (kind: RequestKind, request: Req, response: Res) => number,
): Unary<Req, Res> {
  return (call, callback) => {
    const startedAtMs = performance.now();
    const kind = kindOf(call.request);
    handler(call, (error, response) => {
      try {
        if (error !== null && error !== undefined) {
          metrics.grpcError(kind, (error as Partial<grpc.StatusObject>).code);
          metrics.observe(kind, startedAtMs, 0);
        } else if (response !== null && response !== undefined) {
          metrics.observe(kind, startedAtMs, onAnswer(kind, call.request, response));
        }
      } finally {
        callback(error, response);
      }
    });
  };
}

/**
 * The Broker handlers with request metrics on Produce, Fetch, Metadata and ListOffsets, whether
 * they arrive as unary calls or pipelined on ProduceStream and FetchStream.
 */
export function instrumentBrokerHandlers(handlers: BrokerServiceHandlers, metrics: BrokerRequestMetrics): BrokerServiceHandlers {
  return withPipelines({
    ...handlers,
    produce: timed(metrics, handlers.produce, () => 'produce', (_kind, request, response) => {
      produceErrors(metrics, response);
      return produceBytes(request);
    }),
    fetch: timed(metrics, handlers.fetch, (request: FetchRequest) => (request.replicaId >= 0 ? 'fetch_replica' : 'fetch_consumer'), (kind, _request, response) => fetchAnswer(metrics, kind, response)),
    metadata: timed(metrics, handlers.metadata, () => 'metadata', () => 0),
    listOffsets: timed(metrics, handlers.listOffsets, () => 'list_offsets', (_kind, _request, response) => {
      listOffsetsErrors(metrics, response);
      return 0;
    }),
  });
}
