// Pipelined requests on one long-lived bidirectional gRPC stream, Kafka's way of using a connection:
// many requests in flight, each answer matched to its request by a correlation id. A unary gRPC call
// costs a new HTTP/2 stream each time (HEADERS both ways, trailers, a deadline timer, the client's
// interceptor and load-balancing call chain); on a stream a request is one DATA frame. The hot calls
// (a follower's replica fetch, a producer's produce) use it; everything else stays unary.
//
// The server side serves each message with the method's ordinary unary handler, so validation,
// error codes and request metrics are the same on both paths. The client side keeps Kafka's rules
// for a connection: a request that times out closes the stream (and fails the others in flight,
// which the callers retry), and a peer that does not know the stream method (an older version)
// gets the unary call instead.
import * as grpc from '@grpc/grpc-js';
import { RunnelError } from './errors.js';
import { toRunnelError } from './grpc-clients.js';

/** One request on a pipelined stream (runnel.v1.*Envelope). */
export interface Envelope<Req> {
  correlationId: number;
  request: Req | null;
}

/** The answer to the request with the same correlation id: a gRPC status for that request alone. */
export interface Reply<Res> {
  correlationId: number;
  status: number;
  statusDetails: string;
  response: Res | null;
}

type CancelListener = () => void;

/**
 * Requests one stream may have in flight on the server; more are refused with UNAVAILABLE (retriable)
 * rather than queued, so one client cannot make a broker hold unbounded work (Kafka bounds its
 * request queue the same way, queued.max.requests). Runnel's own clients stay far below it.
 */
export const PIPELINE_IN_FLIGHT_MAX = 4_096;

/**
 * The part of a unary call a Runnel handler uses: its request and the 'cancelled' event (a long
 * poll ends when its caller is gone).
 */
interface PipelinedCall<Req> {
  readonly request: Req;
  readonly cancelListeners: CancelListener[];
  on(event: string, listener: CancelListener): PipelinedCall<Req>;
}

/**
 * A bidirectional-streaming handler that serves each envelope with `unary`, concurrently, and
 * writes each answer as soon as it is ready. When the stream is cancelled or breaks, the requests
 * still being served see 'cancelled'; when the client half-closes, the stream ends after the last
 * answer.
 */
export function pipelineHandler<Req, Res>(unary: grpc.handleUnaryCall<Req, Res>, inFlightMax = PIPELINE_IN_FLIGHT_MAX): grpc.handleBidiStreamingCall<Envelope<Req>, Reply<Res>> {
  return (stream) => {
    const live = new Set<PipelinedCall<Req>>();
    let broken = false;
    let halfClosed = false;
    const breakOff = (): void => {
      if (broken) return;
      broken = true;
      for (const call of live) for (const listener of call.cancelListeners) listener();
      live.clear();
    };
    const endIfDone = (): void => {
      if (halfClosed && live.size === 0 && !broken) stream.end();
    };
    stream.on('cancelled', breakOff);
    stream.on('error', breakOff);
    stream.on('end', () => {
      halfClosed = true;
      endIfDone();
    });
    stream.on('data', (envelope: Envelope<Req>) => {
      const correlationId = envelope.correlationId;
      if (envelope.request === null || envelope.request === undefined) {
        stream.write({ correlationId, status: grpc.status.INVALID_ARGUMENT, statusDetails: 'envelope without a request', response: null });
        return;
      }
      if (live.size >= inFlightMax) {
        stream.write({ correlationId, status: grpc.status.UNAVAILABLE, statusDetails: `${inFlightMax} requests already in flight on this stream`, response: null });
        return;
      }
      const call: PipelinedCall<Req> = {
        request: envelope.request,
        cancelListeners: [],
        on(event, listener) {
          if (event === 'cancelled') {
            if (broken) queueMicrotask(listener);
            else call.cancelListeners.push(listener);
          }
          return call;
        },
      };
      live.add(call);
      let answered = false;
      unary(call as unknown as grpc.ServerUnaryCall<Req, Res>, (error, response) => {
        if (answered) return;
        answered = true;
        live.delete(call);
        if (broken) return;
        if (error !== null && error !== undefined) {
          const status = (error as Partial<grpc.StatusObject>).code ?? grpc.status.UNKNOWN;
          const details = (error as Partial<grpc.StatusObject>).details ?? (error as Error).message ?? '';
          stream.write({ correlationId, status, statusDetails: details, response: null });
        } else if (response === null || response === undefined) {
          stream.write({ correlationId, status: grpc.status.INTERNAL, statusDetails: 'empty response', response: null });
        } else {
          stream.write({ correlationId, status: grpc.status.OK, statusDetails: '', response });
        }
        endIfDone();
      });
    });
  };
}

interface Pending<Res> {
  readonly resolve: (response: Res) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export interface PipelineOptions<Req, Res> {
  /** Opens the bidirectional stream (e.g. `() => client.fetchStream()`). */
  readonly open: () => grpc.ClientDuplexStream<Envelope<Req>, Reply<Res>>;
  /** The same request as a unary call, used when the peer does not serve the stream method. */
  readonly unary: (request: Req, timeoutMs: number, signal?: AbortSignal) => Promise<Res>;
  /** The method name for error messages, e.g. "fetch". */
  readonly method: string;
  readonly target: string;
}

/**
 * The client side: call() sends a request on the shared stream (opened on first use and again
 * after it broke) and resolves with its answer. Errors are the RunnelErrors unaryCall gives:
 * REQUEST_TIMED_OUT for a request unanswered within its timeout, NETWORK_EXCEPTION for a broken
 * stream or an aborted call, and the mapped gRPC status a request was refused with.
 */
export class Pipeline<Req, Res> {
  private stream: grpc.ClientDuplexStream<Envelope<Req>, Reply<Res>> | undefined;
  private readonly pending = new Map<number, Pending<Res>>();
  private nextCorrelationId = 1;
  private unsupported = false;
  private closed = false;

  constructor(private readonly options: PipelineOptions<Req, Res>) {}

  /** Requests sent and not yet answered (tests). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** True once the peer answered UNIMPLEMENTED to the stream: calls go unary from then on. */
  get usesUnary(): boolean {
    return this.unsupported;
  }

  call(request: Req, timeoutMs: number, signal?: AbortSignal): Promise<Res> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return Promise.reject(new RangeError(`timeoutMs must be a positive finite number, got ${timeoutMs}`));
    }
    const { method, target } = this.options;
    if (this.closed) return Promise.reject(new RunnelError('NETWORK_EXCEPTION', `${method} to ${target}: the connection is closed`, { details: { method, target } }));
    if (this.unsupported) return this.options.unary(request, timeoutMs, signal);
    if (signal?.aborted === true) {
      return Promise.reject(new RunnelError('NETWORK_EXCEPTION', `${method} to ${target} cancelled before it started`, { details: { method, target } }));
    }
    const stream = this.stream ?? this.openStream();
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId >= Number.MAX_SAFE_INTEGER ? 1 : correlationId + 1;
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(correlationId)?.reject(
          new RunnelError('REQUEST_TIMED_OUT', `${method} to ${target} failed: no answer within ${timeoutMs} ms`, { details: { method, target } }),
        );
        // Kafka closes a connection whose request timed out: whatever is stuck on it is stuck for all.
        this.breakStream(stream, new RunnelError('NETWORK_EXCEPTION', `${method} to ${target}: connection closed after a request timed out`, { details: { method, target } }));
      }, timeoutMs);
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              this.settle(correlationId)?.reject(new RunnelError('NETWORK_EXCEPTION', `${method} to ${target} cancelled`, { details: { method, target } }));
            };
      if (signal !== undefined && onAbort !== undefined) signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(correlationId, { resolve, reject, timer, signal, onAbort });
      stream.write({ correlationId, request });
    }).catch((error: unknown) => {
      // A peer without the stream method: this request (and every later one) goes unary.
      if (error instanceof StreamUnsupported) return this.options.unary(request, timeoutMs, signal);
      throw error;
    });
  }

  /** Fails what is in flight and closes the stream; later calls fail with NETWORK_EXCEPTION. */
  close(): void {
    this.closed = true;
    const stream = this.stream;
    if (stream !== undefined) {
      const { method, target } = this.options;
      this.breakStream(stream, new RunnelError('NETWORK_EXCEPTION', `${method} to ${target}: the connection is closed`, { details: { method, target } }));
    }
  }

  private openStream(): grpc.ClientDuplexStream<Envelope<Req>, Reply<Res>> {
    const stream = this.options.open();
    this.stream = stream;
    stream.on('data', (reply: Reply<Res>) => this.onReply(reply));
    stream.on('error', (error: grpc.ServiceError) => {
      if (this.stream !== stream) return;
      if (error.code === grpc.status.UNIMPLEMENTED) {
        this.unsupported = true;
        this.breakStream(stream, new StreamUnsupported());
        return;
      }
      this.breakStream(stream, toRunnelError(error, this.options.method, this.options.target, 0));
    });
    stream.on('end', () => {
      if (this.stream !== stream) return;
      const { method, target } = this.options;
      this.breakStream(stream, new RunnelError('NETWORK_EXCEPTION', `${method} to ${target}: the peer ended the stream`, { details: { method, target } }));
    });
    return stream;
  }

  private onReply(reply: Reply<Res>): void {
    // An answer to a request that timed out or was aborted meanwhile has nobody waiting: dropped.
    const pending = this.settle(reply.correlationId);
    if (pending === undefined) return;
    if (reply.status === grpc.status.OK && reply.response !== null && reply.response !== undefined) {
      pending.resolve(reply.response);
      return;
    }
    const error = Object.assign(new Error(reply.statusDetails), { code: reply.status, details: reply.statusDetails, metadata: new grpc.Metadata() });
    pending.reject(toRunnelError(error as grpc.ServiceError, this.options.method, this.options.target, 0));
  }

  /** Removes the pending request and its timer and abort listener; undefined if it was settled already. */
  private settle(correlationId: number): Pending<Res> | undefined {
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return undefined;
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    return pending;
  }

  /** Cancels `stream` (if it is still the current one) and fails every request in flight with `error`. */
  private breakStream(stream: grpc.ClientDuplexStream<Envelope<Req>, Reply<Res>>, error: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.cancel();
    for (const correlationId of [...this.pending.keys()]) this.settle(correlationId)?.reject(error);
  }
}

/** Internal: the stream method is unknown to the peer; the call is retried as a unary call. */
class StreamUnsupported extends Error {
  constructor() {
    super('the peer does not serve the stream method');
  }
}
