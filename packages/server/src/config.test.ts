import { describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { raftTimingTicks, resolveConfig } from './config.js';
import { parseProperties } from './properties-file.js';

const QUORUM = '1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293';
const FILE = [
  '# a Kafka-style server.properties',
  'node.id=2',
  'log.dirs=/var/lib/runnel/file',
  `controller.quorum.voters=${QUORUM}`,
  'controller.quorum.election.timeout.ms=1000',
  'some.kafka.key=ignored',
].join('\n');

function configError(run: () => unknown): RunnelError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RunnelError);
    return error as RunnelError;
  }
  throw new Error('expected a config error');
}

describe('properties file parsing', () => {
  it('reads key=value, key: value and key value lines, skipping comments', () => {
    const entries = parseProperties('# c\n! c\n a=1\nb: 2\nc 3\n\nd=x=y\n');
    expect([...entries].map(([key, entry]) => [key, entry.value, entry.line])).toEqual([
      ['a', '1', 3], ['b', '2', 4], ['c', '3', 5], ['d', 'x=y', 7],
    ]);
  });

  it('joins a value continued with a trailing backslash', () => {
    expect(parseProperties('voters=1@a:1,\\\n   2@b:2\n').get('voters')?.value).toBe('1@a:1,2@b:2');
  });
});

describe('config precedence: flags > RUNNEL_* env > config file > defaults', () => {
  it('takes every setting from the file when nothing overrides it', () => {
    const { config, sources, unknownFileKeys } = resolveConfig({ configFile: 'server.properties', configFileText: FILE });
    expect(config.nodeId).toBe(2);
    expect(config.dataDir).toBe('/var/lib/runnel/file');
    expect(config.controllerListen).toBe('127.0.0.1:9193');
    expect(config.electionTimeoutMs).toBe(1000);
    expect(config.logLevel).toBe('info');
    expect(sources.nodeId).toBe('config file server.properties, key node.id, line 2');
    expect(sources.logLevel).toBe('default');
    expect(unknownFileKeys).toEqual(['some.kafka.key']);
  });

  it('lets env override the file and flags override env', () => {
    const { config, sources } = resolveConfig({
      configFile: 'server.properties',
      configFileText: FILE,
      env: { RUNNEL_DATA_DIR: '/env/dir', RUNNEL_NODE_ID: '3', RUNNEL_LOG_LEVEL: 'debug' },
      flags: { nodeId: '1' },
    });
    expect(config.nodeId).toBe(1);
    expect(sources.nodeId).toBe('flag --node-id');
    expect(config.dataDir).toBe('/env/dir');
    expect(sources.dataDir).toBe('environment variable RUNNEL_DATA_DIR');
    expect(config.logLevel).toBe('debug');
    expect(config.controllerListen).toBe('127.0.0.1:9093');
  });

  it('treats an empty environment variable as unset', () => {
    const { config } = resolveConfig({ configFileText: FILE, env: { RUNNEL_NODE_ID: '' } });
    expect(config.nodeId).toBe(2);
  });

  it('applies defaults and derives Raft ticks from milliseconds', () => {
    const { config } = resolveConfig({ flags: { nodeId: '1', dataDir: '/d', controllerQuorumVoters: QUORUM } });
    expect(raftTimingTicks(config)).toEqual({ tickMs: 100, electionTicks: 5, heartbeatTicks: 1 });
    expect(config.requestTimeoutMs).toBe(1000);
    expect(config.controllerQuorumVoters.get(3)).toBe('127.0.0.1:9293');
  });
});

describe('config validation names the key, the value and its source', () => {
  it('rejects a non-numeric node id from the environment', () => {
    const error = configError(() => resolveConfig({ env: { RUNNEL_NODE_ID: 'abc' }, flags: { dataDir: '/d', controllerQuorumVoters: QUORUM } }));
    expect(error.codeName).toBe('INVALID_CONFIG');
    expect(error.message).toBe('invalid node.id (from environment variable RUNNEL_NODE_ID): "abc" must be a positive integer');
  });

  it('rejects a malformed voter entry from the config file with its line', () => {
    const error = configError(() => resolveConfig({ configFile: 'a.properties', configFileText: 'node.id=1\ndata.dir=/d\ncontroller.quorum.voters=1@127.0.0.1:9093,2-127.0.0.1:9193\n' }));
    expect(error.message).toContain('invalid controller.quorum.voters (from config file a.properties, key controller.quorum.voters, line 3)');
    expect(error.message).toContain('entry "2-127.0.0.1:9193" must be ID@HOST:PORT');
  });

  it('rejects duplicate voter ids and out-of-range ports', () => {
    expect(configError(() => resolveConfig({ flags: { nodeId: '1', dataDir: '/d', controllerQuorumVoters: '1@h:1,1@h:2' } })).message).toContain('voter id 1 appears twice');
    expect(configError(() => resolveConfig({ flags: { nodeId: '1', dataDir: '/d', controllerQuorumVoters: '1@h:70000' } })).message).toContain('port must be between 1 and 65535');
  });

  it('rejects an unknown log level from a flag', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '1', dataDir: '/d', controllerQuorumVoters: QUORUM, logLevel: 'loud' } }));
    expect(error.message).toMatch(/^invalid log\.level \(from flag --log-level\): "loud" must be one of fatal, error/);
  });

  it('names every way to set a missing required setting', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '1', controllerQuorumVoters: QUORUM } }));
    expect(error.message).toBe('missing data.dir: pass --data-dir, set RUNNEL_DATA_DIR, or put data.dir=... in the config file');
  });

  it('refuses the controller role for a node that is not a voter', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '9', dataDir: '/d', controllerQuorumVoters: QUORUM } }));
    expect(error.message).toMatch(/^invalid process\.roles \(from default\): node 9 is not in controller\.quorum\.voters .*\(--roles broker\)/);
  });

  it('rejects a listener on another port than this node\'s voter entry', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '1', dataDir: '/d', controllerQuorumVoters: QUORUM, controllerListen: '127.0.0.1:9193' } }));
    expect(error.message).toContain('does not match this node\'s entry 1@127.0.0.1:9093');
  });

  it('rejects an election timeout that is not a whole number of ticks', () => {
    const error = configError(() => resolveConfig({ configFile: 'f', configFileText: `node.id=1\ndata.dir=/d\ncontroller.quorum.voters=${QUORUM}\ncontroller.quorum.election.timeout.ms=250\n` }));
    expect(error.message).toContain('invalid controller.quorum.election.timeout.ms (from config file f, key controller.quorum.election.timeout.ms, line 4)');
  });

  it('rejects setting both log.dirs and data.dir in one file', () => {
    const error = configError(() => resolveConfig({ configFile: 'f', configFileText: `data.dir=/a\nlog.dirs=/b\n` }));
    expect(error.message).toContain('data.dir and log.dirs');
  });

  it('rejects several log dirs', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '1', dataDir: '/a,/b', controllerQuorumVoters: QUORUM } }));
    expect(error.message).toContain('invalid data.dir (from flag --data-dir)');
  });

  it('reports a config file that does not exist', () => {
    const error = configError(() => resolveConfig({ configFile: '/nonexistent/runnel.properties' }));
    expect(error.message).toBe('cannot read config file /nonexistent/runnel.properties: no such file');
  });
});

describe('broker settings', () => {
  const base = { nodeId: '1', dataDir: '/d', controllerQuorumVoters: QUORUM };

  it('defaults to a combined node with a broker listener on 127.0.0.1:9092', () => {
    const { config, sources } = resolveConfig({ flags: base });
    expect(config).toMatchObject({
      roles: ['broker', 'controller'],
      listen: '127.0.0.1:9092',
      advertisedListen: '127.0.0.1:9092',
      brokerHeartbeatIntervalMs: 500,
      brokerSessionTimeoutMs: 2_000,
      minInsyncReplicas: 1,
      defaultReplicationFactor: 1,
      numPartitions: 1,
      logFlushPolicy: 'durable',
      replicaLagTimeMaxMs: 30_000,
    });
    expect(sources.advertisedListen).toBe('derived from listeners (default)');
  });

  it('reads Kafka-style keys, accepting a named listener', () => {
    const text = [
      'node.id=1', 'data.dir=/d', `controller.quorum.voters=${QUORUM}`, 'listeners=PLAINTEXT://127.0.0.1:9500',
      'advertised.listeners=broker-1.local:9500', 'process.roles=controller, broker', 'log.flush.policy=lazy',
      'min.insync.replicas=2', 'default.replication.factor=3', 'num.partitions=6',
    ].join('\n');
    const { config } = resolveConfig({ configFile: 'f', configFileText: text, env: { RUNNEL_REPLICA_LAG_TIME_MAX_MS: '5000' } });
    expect(config).toMatchObject({
      listen: '127.0.0.1:9500', advertisedListen: 'broker-1.local:9500', roles: ['broker', 'controller'], logFlushPolicy: 'lazy',
      minInsyncReplicas: 2, defaultReplicationFactor: 3, numPartitions: 6, replicaLagTimeMaxMs: 5_000,
    });
  });

  it('runs a broker-only observer with Raft on its broker listener', () => {
    const { config } = resolveConfig({ flags: { ...base, nodeId: '9', roles: 'broker', listen: '127.0.0.1:9992' } });
    expect(config).toMatchObject({ roles: ['broker'], listen: '127.0.0.1:9992', controllerListen: '127.0.0.1:9992' });
  });

  it('refuses a voter without the controller role', () => {
    const error = configError(() => resolveConfig({ flags: { ...base, roles: 'broker' } }));
    expect(error.message).toContain('node 1 is in controller.quorum.voters');
  });

  it('refuses an unknown role, a flush policy and a broker port shared with the controller', () => {
    expect(configError(() => resolveConfig({ flags: { ...base, roles: 'broker,coordinator' } })).message).toContain('role "coordinator" is not one of broker, controller');
    expect(configError(() => resolveConfig({ flags: { ...base, logFlushPolicy: 'sometimes' } })).message).toContain('invalid log.flush.policy (from flag --log-flush-policy)');
    expect(configError(() => resolveConfig({ flags: { ...base, listen: '127.0.0.1:9093' } })).message).toContain('is also the controller listener');
  });

  it('reads the leader-election settings, the imbalance interval in seconds as Kafka names it', () => {
    const text = ['auto.leader.rebalance.enable=false', 'leader.imbalance.check.interval.seconds=5', 'unclean.leader.election.enable=true'].join('\n');
    const { config } = resolveConfig({ flags: base, configFileText: text });
    expect(config).toMatchObject({ autoLeaderRebalanceEnable: false, leaderImbalanceCheckIntervalMs: 5_000, uncleanLeaderElectionEnable: true });
    expect(resolveConfig({ flags: base }).config).toMatchObject({ autoLeaderRebalanceEnable: true, leaderImbalanceCheckIntervalMs: 30_000, uncleanLeaderElectionEnable: false });
    expect(() => resolveConfig({ flags: { ...base, autoLeaderRebalanceEnable: 'yes' } })).toThrow(/auto.leader.rebalance.enable.*must be true or false/);
  });

  it('refuses a session timeout that does not exceed the heartbeat interval', () => {
    const error = configError(() => resolveConfig({ flags: { ...base, brokerHeartbeatIntervalMs: '3000', brokerSessionTimeoutMs: '3000' } }));
    expect(error.message).toContain('invalid broker.session.timeout.ms (from flag --broker-session-timeout-ms)');
  });
});

describe('HTTP and external listener settings', () => {
  const base = { nodeId: '1', dataDir: '/d', controllerQuorumVoters: QUORUM };

  it('serves HTTP on 127.0.0.1:9094 and has no external listener by default', () => {
    const { config, sources } = resolveConfig({ flags: base });
    expect(config.httpListen).toBe('127.0.0.1:9094');
    expect(sources.httpListen).toBe('default');
    expect(config.externalListen).toBeUndefined();
    expect(config.externalAdvertisedListen).toBeUndefined();
  });

  it('reads the keys from file, env and flags, advertising the external listener itself unless told otherwise', () => {
    const text = ['http.listen=0.0.0.0:9500', 'external.listen=0.0.0.0:9600'].join('\n');
    const fromFile = resolveConfig({ flags: base, configFile: 'f', configFileText: text });
    expect(fromFile.config).toMatchObject({ httpListen: '0.0.0.0:9500', externalListen: '0.0.0.0:9600', externalAdvertisedListen: '0.0.0.0:9600' });
    expect(fromFile.sources.externalAdvertisedListen).toBe('derived from external.listen (config file f, key external.listen, line 2)');
    const fromEnv = resolveConfig({
      flags: { ...base, httpListen: '127.0.0.1:9700' },
      env: { RUNNEL_HTTP_LISTEN: '127.0.0.1:9800', RUNNEL_EXTERNAL_LISTEN: 'EXTERNAL://0.0.0.0:9601', RUNNEL_EXTERNAL_ADVERTISED_LISTEN: 'localhost:19092' },
    });
    expect(fromEnv.config).toMatchObject({ httpListen: '127.0.0.1:9700', externalListen: '0.0.0.0:9601', externalAdvertisedListen: 'localhost:19092' });
    expect(fromEnv.sources.externalAdvertisedListen).toBe('environment variable RUNNEL_EXTERNAL_ADVERTISED_LISTEN');
  });

  it('refuses listeners that share a port with another listener', () => {
    expect(configError(() => resolveConfig({ flags: { ...base, httpListen: '127.0.0.1:9092' } })).message)
      .toBe('invalid http.listen (from flag --http-listen): "127.0.0.1:9092" is also listeners; the HTTP listener needs its own port');
    expect(configError(() => resolveConfig({ flags: { ...base, httpListen: '127.0.0.1:9093' } })).message).toContain('is also controller.listener');
    expect(configError(() => resolveConfig({ flags: { ...base, externalListen: '127.0.0.1:9092' } })).message)
      .toBe('invalid external.listen (from flag --external-listen): "127.0.0.1:9092" is also listeners; give the external listener its own port');
    expect(configError(() => resolveConfig({ flags: { ...base, externalListen: '127.0.0.1:9600', httpListen: '127.0.0.1:9600' } })).message).toContain('is also external.listen');
  });

  it('refuses an external listener on a controller-only node, an advertised one without a listener, and a bad address', () => {
    const controllerOnly = { ...base, roles: 'controller' };
    expect(configError(() => resolveConfig({ flags: { ...controllerOnly, externalListen: '127.0.0.1:9600' } })).message).toContain('needs the broker role');
    expect(configError(() => resolveConfig({ flags: { ...base, externalAdvertisedListen: 'localhost:9600' } })).message)
      .toBe('invalid external.advertised.listen (from flag --external-advertised-listen): needs external.listen (the listener it advertises)');
    expect(configError(() => resolveConfig({ flags: { ...base, httpListen: 'nohost' } })).message).toContain('invalid http.listen (from flag --http-listen): "nohost" must be HOST:PORT');
  });
});
