// A broker's client of the active controller (runnel.v1.Controller): the active controller is the
// Raft leader and moves, so every call goes to the controller the last answer named, follows
// NOT_CONTROLLER hints at once, and tries the voters in turn when a node is silent or knows no
// leader. Used for AlterPartition, AllocateProducerIds and the admin calls brokers forward.
import { ControllerEndpoints } from '@runnel/controller';
import { ErrorCode, RunnelError, unaryCall } from '@runnel/protocol';
import type { ControllerClient, ControllerHint, RequestOf, ResponseOf, UnaryMethodName } from '@runnel/protocol';
import type { Logger } from 'pino';

export type ControllerMethod = UnaryMethodName<ControllerClient>;

export interface ControllerChannelOptions {
  /** Voter id -> host:port of its controller listener. */
  readonly voters: ReadonlyMap<number, string>;
  readonly logger: Logger;
  /** Bound on one gRPC call; the whole call() is bounded by its own timeoutMs. */
  readonly callTimeoutMs?: number;
  /** Pause before asking again when no controller is known (an election is running). */
  readonly retryBackoffMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 2_000;
const DEFAULT_RETRY_BACKOFF_MS = 100;
/** Calls within one call(): enough to walk every voter a few times through one election. */
const HOPS_MAX = 64;

/** The controller hint of an answer when it says NOT_CONTROLLER (top level or for any topic). */
function notControllerHint(response: unknown): ControllerHint | null | undefined {
  const fields = response as { errorCode?: number; topics?: { errorCode?: number }[]; controller?: ControllerHint | null };
  const refused = fields.errorCode === ErrorCode.NOT_CONTROLLER || (fields.topics ?? []).some((t) => t.errorCode === ErrorCode.NOT_CONTROLLER);
  return refused ? (fields.controller ?? null) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ControllerChannel {
  private readonly controllers: ControllerEndpoints;
  private readonly log: Logger;
  private readonly callTimeoutMs: number;
  private readonly retryBackoffMs: number;
  private target: { id: number; endpoint: string } | undefined;
  private closed = false;

  constructor(private readonly options: ControllerChannelOptions) {
    if (options.voters.size === 0) throw new RangeError('a controller channel needs at least one voter');
    this.log = options.logger.child({ component: 'controller-channel' });
    this.controllers = new ControllerEndpoints(options.voters, (info) => this.log.warn(info, 'controller connection stuck while connecting: replaced the channel'));
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.retryBackoffMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  }

  /**
   * Sends `request` to the active controller and resolves with its answer. An answer that is still
   * NOT_CONTROLLER when `timeoutMs` runs out is returned as is (the caller passes the code on);
   * REQUEST_TIMED_OUT is thrown only when no controller answered at all.
   */
  async call<K extends ControllerMethod>(method: K, request: RequestOf<ControllerClient[K]>, timeoutMs: number): Promise<ResponseOf<ControllerClient[K]>> {
    const deadline = Date.now() + timeoutMs;
    let lastRefusal: ResponseOf<ControllerClient[K]> | undefined;
    let lastError: unknown;
    for (let hop = 0; hop < HOPS_MAX && !this.closed; hop++) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      const target = this.target ?? this.controllers.nextCandidate();
      let response: ResponseOf<ControllerClient[K]>;
      try {
        response = await unaryCall(this.controllers.clientFor(target.endpoint), method, request, Math.min(this.callTimeoutMs, remainingMs));
      } catch (error) {
        lastError = error;
        this.controllers.noteFailure(target.endpoint);
        this.log.debug({ err: error, method, controllerId: target.id, endpoint: target.endpoint }, 'controller call failed; trying the next voter');
        this.target = undefined;
        await sleep(Math.min(this.retryBackoffMs, Math.max(0, deadline - Date.now())));
        continue;
      }
      this.controllers.noteSuccess(target.endpoint);
      const hint = notControllerHint(response);
      if (hint === undefined) {
        this.target = target;
        return response;
      }
      lastRefusal = response;
      if (hint !== null && hint.leaderEndpoint !== '' && hint.leaderEndpoint !== target.endpoint) {
        this.target = { id: hint.leaderId, endpoint: hint.leaderEndpoint };
        continue;
      }
      // No leader known, or the named leader is still activating: wait, then ask it (or the next voter) again.
      this.target = hint !== null && hint.leaderEndpoint === target.endpoint ? target : undefined;
      await sleep(Math.min(this.retryBackoffMs, Math.max(0, deadline - Date.now())));
    }
    if (lastRefusal !== undefined) return lastRefusal;
    if (this.closed) throw new RunnelError('NETWORK_EXCEPTION', `${String(method)}: controller channel closed`);
    throw new RunnelError('REQUEST_TIMED_OUT', `${String(method)}: no controller answered within ${timeoutMs} ms`, { cause: lastError });
  }

  close(): void {
    this.closed = true;
    this.controllers.close();
  }
}
