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

  it('requires a listener for a node that is not a voter', () => {
    const error = configError(() => resolveConfig({ flags: { nodeId: '9', dataDir: '/d', controllerQuorumVoters: QUORUM } }));
    expect(error.message).toContain('node 9 is not in controller.quorum.voters');
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
