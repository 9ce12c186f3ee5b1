// BrokerLifecycle against scripted fake controllers on 127.0.0.1: hint following, round-robin past
// an unreachable voter, re-registration on a stale epoch, and controlled shutdown with its bound.
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { CONTROLLER_SERVICE, ErrorCode, serverOptions } from '@runnel/protocol';
import type { BrokerHeartbeatRequest, BrokerHeartbeatResponse, ControllerServiceHandlers, RegisterBrokerRequest, RegisterBrokerResponse } from '@runnel/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerLifecycle } from './broker-lifecycle.js';

const WAIT_MS = 10_000;
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const NO_HINT = { leaderId: 0, leaderEndpoint: '' };

type Register = (request: RegisterBrokerRequest) => Omit<RegisterBrokerResponse, 'controller'>;
type Heartbeat = (request: BrokerHeartbeatRequest) => Omit<BrokerHeartbeatResponse, 'controller'>;

interface FakeController {
  endpoint: string;
  registrations: RegisterBrokerRequest[];
  heartbeats: BrokerHeartbeatRequest[];
  server: grpc.Server;
}

const servers: grpc.Server[] = [];
const lifecycles: BrokerLifecycle[] = [];

afterEach(async () => {
  await Promise.all(lifecycles.splice(0).map((l) => l.stop()));
  for (const server of servers.splice(0)) server.forceShutdown();
});

async function fakeController(behaviour: { register?: Register; heartbeat?: Heartbeat; hint?: () => { leaderId: number; leaderEndpoint: string } }): Promise<FakeController> {
  const server = new grpc.Server(serverOptions());
  servers.push(server);
  const fake: FakeController = { endpoint: '', registrations: [], heartbeats: [], server };
  const notController = { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the controller' };
  const handlers: Partial<ControllerServiceHandlers> = {
    registerBroker: (call, callback) => {
      fake.registrations.push(call.request);
      const response = behaviour.register?.(call.request) ?? { ...notController, brokerEpoch: 0 };
      callback(null, { ...response, controller: behaviour.hint?.() ?? NO_HINT });
    },
    brokerHeartbeat: (call, callback) => {
      fake.heartbeats.push(call.request);
      const response = behaviour.heartbeat?.(call.request) ?? { ...notController, isFenced: true, inControlledShutdown: false, shouldShutdown: false };
      callback(null, { ...response, controller: behaviour.hint?.() ?? NO_HINT });
    },
  };
  server.addService(CONTROLLER_SERVICE, handlers as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error)));
  });
  fake.endpoint = `127.0.0.1:${port}`;
  return fake;
}

/** A controller that registers every incarnation with the next epoch and unfences at `caughtUpOffset`. */
function activeBehaviour(options: { caughtUpOffset: number; staleFirstHeartbeat?: boolean; shutdownAfter?: number }) {
  let epoch = 9;
  let staleSent = false;
  let shutdownHeartbeats = 0;
  return {
    register: (): Omit<RegisterBrokerResponse, 'controller'> => ({ errorCode: ErrorCode.NONE, errorMessage: '', brokerEpoch: ++epoch }),
    heartbeat: (request: BrokerHeartbeatRequest): Omit<BrokerHeartbeatResponse, 'controller'> => {
      if (options.staleFirstHeartbeat === true && !staleSent) {
        staleSent = true;
        return { errorCode: ErrorCode.STALE_BROKER_EPOCH, errorMessage: 'stale', isFenced: true, inControlledShutdown: false, shouldShutdown: false };
      }
      if (request.brokerEpoch !== epoch) return { errorCode: ErrorCode.STALE_BROKER_EPOCH, errorMessage: 'stale', isFenced: true, inControlledShutdown: false, shouldShutdown: false };
      if (request.wantShutdown) shutdownHeartbeats++;
      const shouldShutdown = options.shutdownAfter !== undefined && shutdownHeartbeats >= options.shutdownAfter;
      return { errorCode: ErrorCode.NONE, errorMessage: '', isFenced: request.metadataOffset < options.caughtUpOffset, inControlledShutdown: request.wantShutdown, shouldShutdown };
    },
  };
}

function lifecycle(controllers: Map<number, string>, metadataOffset: () => number = () => 100): BrokerLifecycle {
  const l = new BrokerLifecycle({
    clusterId: 'c', brokerId: 7, endpoints: [{ name: 'CLIENT', host: '127.0.0.1', port: 9092 }], controllers, metadataOffset, logger,
    heartbeatIntervalMs: 50, requestTimeoutMs: 500, retryBackoffMs: 20,
  });
  lifecycles.push(l);
  l.start();
  return l;
}

describe('BrokerLifecycle', () => {
  it('follows a NOT_CONTROLLER hint to the active controller and re-registers after STALE_BROKER_EPOCH', async () => {
    const active = await fakeController(activeBehaviour({ caughtUpOffset: 5, staleFirstHeartbeat: true }));
    const follower = await fakeController({ hint: () => ({ leaderId: 2, leaderEndpoint: active.endpoint }) });
    const broker = lifecycle(new Map([[1, follower.endpoint]]));
    expect(await broker.waitFor((s) => s.registered && !s.fenced, WAIT_MS)).toBe(true);
    expect(broker.state).toMatchObject({ controllerId: 2, brokerEpoch: 11 });
    expect(active.registrations).toHaveLength(2);
    expect(new Set(active.registrations.map((r) => r.incarnationId))).toEqual(new Set([broker.incarnationId]));
    expect(follower.heartbeats).toHaveLength(0);
  });

  it('stays fenced while its metadata offset is behind, and is unfenced once it catches up', async () => {
    const active = await fakeController(activeBehaviour({ caughtUpOffset: 5 }));
    let offset = 0;
    const broker = lifecycle(new Map([[1, active.endpoint]]), () => offset);
    expect(await broker.waitFor((s) => s.registered, WAIT_MS)).toBe(true);
    expect(await broker.waitFor((s) => !s.fenced, 300)).toBe(false);
    offset = 5;
    expect(await broker.waitFor((s) => !s.fenced, WAIT_MS)).toBe(true);
    expect(active.heartbeats.at(-1)?.metadataOffset).toBe(5);
  });

  it('tries the next voter when one is unreachable', async () => {
    const dead = await fakeController({});
    dead.server.forceShutdown();
    const active = await fakeController(activeBehaviour({ caughtUpOffset: 0 }));
    const broker = lifecycle(new Map([[1, dead.endpoint], [2, active.endpoint]]));
    expect(await broker.waitFor((s) => s.registered && !s.fenced && s.controllerId === 2, WAIT_MS)).toBe(true);
  });

  it('resolves controlledShutdown once the controller says the broker may exit, and gives up at its bound otherwise', async () => {
    const willing = await fakeController(activeBehaviour({ caughtUpOffset: 0, shutdownAfter: 2 }));
    const broker = lifecycle(new Map([[1, willing.endpoint]]));
    expect(await broker.waitFor((s) => !s.fenced, WAIT_MS)).toBe(true);
    expect(await broker.controlledShutdown(WAIT_MS)).toBe(true);
    expect(broker.state.inControlledShutdown).toBe(true);
    expect(willing.heartbeats.some((h) => h.wantShutdown)).toBe(true);

    const stubborn = await fakeController(activeBehaviour({ caughtUpOffset: 0 }));
    const other = lifecycle(new Map([[1, stubborn.endpoint]]));
    expect(await other.waitFor((s) => !s.fenced, WAIT_MS)).toBe(true);
    expect(await other.controlledShutdown(300)).toBe(false);
    expect(other.state.shouldShutdown).toBe(false);
  });
});
