// A broker's side of KRaft's broker lifecycle: register with the active controller, heartbeat every
// broker.heartbeat.interval.ms with the metadata offset applied so far (the controller unfences a
// broker once it has caught up), and ask for controlled shutdown on the way out.
//
// The active controller moves (it is the Raft leader), so every call goes to the controller the last
// answer named; NOT_CONTROLLER hints are followed at once, and a silent or unreachable node sends the
// next call to the next voter in turn. A STALE_BROKER_EPOCH or unknown-broker answer means the
// controller no longer knows this incarnation's registration: register again.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ErrorCode, errorInfo, unaryCall } from '@runnel/protocol';
import type { ControllerClient, ControllerHint, Endpoint } from '@runnel/protocol';
import { ControllerEndpoints } from './controller-endpoints.js';

export const BROKER_LIFECYCLE_DEFAULTS = Object.freeze({
  /** broker.heartbeat.interval.ms (Kafka's default); the session timeout lives in the controller. */
  heartbeatIntervalMs: 2_000,
  /** Deadline of one RegisterBroker or BrokerHeartbeat call. */
  requestTimeoutMs: 2_000,
  /** Pause after a failed call before trying the next controller candidate. */
  retryBackoffMs: 100,
  /** Bound on controlledShutdown() waiting for the controller to move leadership away. */
  controlledShutdownTimeoutMs: 30_000,
});

/** Calls within one attempt (hints followed, re-registration, the heartbeat after it); more means the quorum is electing. */
const CALLS_PER_ATTEMPT_MAX = 4;

export interface BrokerLifecycleOptions {
  readonly clusterId: string;
  readonly brokerId: number;
  /** New on every process start; generated when omitted. */
  readonly incarnationId?: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack?: string | null;
  /** Voter id -> host:port of its controller listener. */
  readonly controllers: ReadonlyMap<number, string>;
  /** Raft index of the last metadata batch this broker applied (MetadataStateMachine.appliedOffset). */
  readonly metadataOffset: () => number;
  readonly logger: Logger;
  readonly heartbeatIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly retryBackoffMs?: number;
}

export interface BrokerLifecycleState {
  readonly registered: boolean;
  /** 0 until registered. */
  readonly brokerEpoch: number;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  readonly shouldShutdown: boolean;
  /** The controller the last successful call went to; 0 when none yet. */
  readonly controllerId: number;
}

export interface BrokerLifecycleEvents {
  /** Any change of BrokerLifecycleState. */
  state: [state: BrokerLifecycleState];
}

type Phase = 'idle' | 'running' | 'stopped';

type CallOutcome = { errorCode: number; errorMessage: string; controller: ControllerHint | null; brokerEpoch?: number };

export class BrokerLifecycle extends EventEmitter<BrokerLifecycleEvents> {
  readonly incarnationId: string;
  private readonly log: Logger;
  private readonly heartbeatIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly retryBackoffMs: number;
  private readonly controllers: ControllerEndpoints;
  private current: BrokerLifecycleState = {
    registered: false, brokerEpoch: 0, fenced: true, inControlledShutdown: false, shouldShutdown: false, controllerId: 0,
  };
  /** Where the next call goes: the controller last heard of, or the next voter in turn. */
  private target: { id: number; endpoint: string } | undefined;
  private wantShutdown = false;
  private phase: Phase = 'idle';
  private timer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<(value: boolean) => void>();

  constructor(private readonly options: BrokerLifecycleOptions) {
    super();
    if (options.controllers.size === 0) throw new RangeError('a broker needs at least one controller endpoint');
    if (!Number.isSafeInteger(options.brokerId) || options.brokerId <= 0) throw new RangeError(`broker id must be positive, got ${options.brokerId}`);
    this.incarnationId = options.incarnationId ?? randomUUID();
    this.log = options.logger.child({ component: 'broker-lifecycle', brokerId: options.brokerId });
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? BROKER_LIFECYCLE_DEFAULTS.heartbeatIntervalMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? BROKER_LIFECYCLE_DEFAULTS.requestTimeoutMs;
    this.retryBackoffMs = options.retryBackoffMs ?? BROKER_LIFECYCLE_DEFAULTS.retryBackoffMs;
    this.controllers = new ControllerEndpoints(options.controllers, (info) => this.log.warn(info, 'controller connection stuck while connecting: replaced the channel'));
  }

  get state(): BrokerLifecycleState {
    return this.current;
  }

  start(): void {
    if (this.phase !== 'idle') throw new Error(`broker lifecycle cannot start from ${this.phase}`);
    this.phase = 'running';
    this.loopDone = this.loop();
  }

  /** Stops heartbeating (the controller fences this broker after its session timeout) and closes channels. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    for (const finish of [...this.waiters]) finish(false);
    this.wake();
    await this.loopDone;
    this.controllers.close();
  }

  /**
   * Asks the controller to move leadership away and take this broker out of every ISR; resolves true
   * once it says the broker may exit, false if that did not happen within `timeoutMs`.
   */
  async controlledShutdown(timeoutMs: number = BROKER_LIFECYCLE_DEFAULTS.controlledShutdownTimeoutMs): Promise<boolean> {
    if (this.phase !== 'running') return this.current.shouldShutdown;
    this.wantShutdown = true;
    this.wake();
    const reached = await this.waitFor((s) => s.shouldShutdown, timeoutMs);
    if (!reached) this.log.warn({ timeoutMs }, 'controlled shutdown not confirmed by the controller in time');
    return reached;
  }

  /** Resolves true once `predicate(state)` holds, false after `timeoutMs` or when stopped. */
  waitFor(predicate: (state: BrokerLifecycleState) => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate(this.current)) return Promise.resolve(true);
    if (this.phase === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.off('state', onState);
        this.waiters.delete(finish);
        resolve(value);
      };
      this.waiters.add(finish);
      const onState = (state: BrokerLifecycleState) => {
        if (predicate(state)) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.on('state', onState);
    });
  }

  // ---------------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (this.phase === 'running') {
      let ok = false;
      try {
        ok = await this.attempt();
      } catch (error) {
        this.log.error({ err: error }, 'broker lifecycle attempt failed unexpectedly');
      }
      if (this.phase !== 'running') break;
      // Fast while shutting down or not registered, so handover and rejoin do not wait a full interval.
      const urgent = this.wantShutdown || !this.current.registered;
      await this.sleep(ok && !urgent ? this.heartbeatIntervalMs : ok ? Math.min(this.retryBackoffMs * 2, this.heartbeatIntervalMs) : this.retryBackoffMs);
    }
  }

  /** One register-or-heartbeat: follows hints and re-registers within CALLS_PER_ATTEMPT_MAX calls. */
  private async attempt(): Promise<boolean> {
    for (let hop = 0; hop < CALLS_PER_ATTEMPT_MAX && this.phase === 'running'; hop++) {
      const target = this.target ?? this.controllers.nextCandidate();
      const client = this.controllers.clientFor(target.endpoint);
      let outcome: CallOutcome;
      try {
        outcome = this.current.registered ? await this.heartbeat(client) : await this.register(client);
      } catch (error) {
        // Unreachable or silent: the next attempt asks the next voter.
        this.controllers.noteFailure(target.endpoint);
        this.log.debug({ err: error, controllerId: target.id, endpoint: target.endpoint }, 'controller call failed');
        this.target = undefined;
        return false;
      }
      this.controllers.noteSuccess(target.endpoint);
      if (outcome.errorCode === ErrorCode.NONE) {
        this.target = target;
        if (this.current.controllerId !== target.id) {
          this.log.info({ controllerId: target.id, endpoint: target.endpoint }, 'talking to active controller');
          this.update({ controllerId: target.id });
        }
        // A fresh registration heartbeats at once: unfencing should not wait a whole interval.
        if ('brokerEpoch' in outcome) continue;
        return true;
      }
      if (outcome.errorCode === ErrorCode.NOT_CONTROLLER) {
        const hint = outcome.controller;
        const hinted = hint !== null && hint.leaderEndpoint !== '' && hint.leaderEndpoint !== target.endpoint;
        this.target = hinted ? { id: hint.leaderId, endpoint: hint.leaderEndpoint } : undefined;
        if (!hinted) return false;
        continue;
      }
      const name = errorInfo(outcome.errorCode).name;
      if (name === 'STALE_BROKER_EPOCH' || name === 'BROKER_ID_NOT_REGISTERED') {
        this.log.warn({ error: name, brokerEpoch: this.current.brokerEpoch }, 'controller does not know this registration: registering again');
        this.update({ registered: false, brokerEpoch: 0, fenced: true });
        continue;
      }
      this.log.warn({ error: name, message: outcome.errorMessage }, this.current.registered ? 'heartbeat refused' : 'registration refused');
      return false;
    }
    return false;
  }

  private async register(client: ControllerClient): Promise<CallOutcome> {
    const response = await unaryCall(client, 'registerBroker', {
      clusterId: this.options.clusterId,
      brokerId: this.options.brokerId,
      incarnationId: this.incarnationId,
      endpoints: [...this.options.endpoints],
      rack: this.options.rack ?? '',
    }, this.requestTimeoutMs);
    if (response.errorCode === ErrorCode.NONE && this.phase === 'running') {
      this.log.info({ brokerEpoch: response.brokerEpoch }, 'registered with the controller');
      this.update({ registered: true, brokerEpoch: response.brokerEpoch, fenced: true, inControlledShutdown: false, shouldShutdown: false });
    }
    return response;
  }

  private async heartbeat(client: ControllerClient): Promise<CallOutcome> {
    const response = await unaryCall(client, 'brokerHeartbeat', {
      brokerId: this.options.brokerId,
      brokerEpoch: this.current.brokerEpoch,
      metadataOffset: this.options.metadataOffset(),
      wantFence: false,
      wantShutdown: this.wantShutdown,
    }, this.requestTimeoutMs);
    if (response.errorCode === ErrorCode.NONE && this.phase === 'running') {
      if (response.isFenced !== this.current.fenced) this.log.info({ fenced: response.isFenced }, response.isFenced ? 'broker fenced' : 'broker unfenced');
      this.update({ fenced: response.isFenced, inControlledShutdown: response.inControlledShutdown, shouldShutdown: response.shouldShutdown });
    }
    return response;
  }

  private update(change: Partial<BrokerLifecycleState>): void {
    this.current = { ...this.current, ...change };
    this.emit('state', this.current);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        clearTimeout(this.timer);
        this.wakeUp = undefined;
        resolve();
      };
      this.timer = setTimeout(() => this.wakeUp?.(), ms);
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}
