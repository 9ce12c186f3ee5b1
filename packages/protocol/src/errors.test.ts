import { describe, expect, it } from 'vitest';
import { ERROR_TABLE } from './error-codes.js';
import { ErrorCode, errorInfo, isErrorCodeName, RunnelError } from './errors.js';
import type { ErrorCodeName } from './errors.js';

describe('Kafka error table', () => {
  it('has unique names and unique codes', () => {
    const names = ERROR_TABLE.map(([name]) => name);
    const codes = ERROR_TABLE.map(([, code]) => code);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('is contiguous from -1 upwards, so no code was skipped or mistyped', () => {
    ERROR_TABLE.forEach(([, code], i) => expect(code).toBe(i - 1));
  });

  it('gives every error except NONE a description', () => {
    for (const [name, , , description] of ERROR_TABLE) {
      if (name === 'NONE') expect(description).toBe('');
      else expect(description.length).toBeGreaterThan(0);
    }
  });

  it('keeps the codes Runnel relies on at their Kafka values', () => {
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
    expect(ErrorCode.NONE).toBe(0);
    expect(ErrorCode.REQUEST_TIMED_OUT).toBe(7);
    expect(ErrorCode.NETWORK_EXCEPTION).toBe(13);
    expect(ErrorCode.NOT_CONTROLLER).toBe(41);
    expect(ErrorCode.INCONSISTENT_CLUSTER_ID).toBe(104);
  });

  it('ErrorCode has one entry per table row', () => {
    expect(Object.keys(ErrorCode)).toHaveLength(ERROR_TABLE.length);
  });
});

describe('errorInfo', () => {
  it('returns name, retriable flag and description for a known code', () => {
    expect(errorInfo(6)).toMatchObject({ name: 'NOT_LEADER_OR_FOLLOWER', code: 6, retriable: true });
    expect(errorInfo(25)).toMatchObject({ name: 'UNKNOWN_MEMBER_ID', retriable: false });
  });

  it('maps a code newer than the table to UNKNOWN_SERVER_ERROR but keeps the code', () => {
    const info = errorInfo(30_000);
    expect(info.name).toBe('UNKNOWN_SERVER_ERROR');
    expect(info.code).toBe(30_000);
    expect(info.description).toContain('30000');
  });
});

describe('RunnelError', () => {
  it('carries code, name, message, details and cause', () => {
    const cause = new Error('socket closed');
    const error = new RunnelError('NOT_CONTROLLER', 'node 2 is not the leader', { cause, details: { leaderId: 3 } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RunnelError');
    expect(error.code).toBe(41);
    expect(error.codeName).toBe('NOT_CONTROLLER');
    expect(error.message).toBe('node 2 is not the leader');
    expect(error.details).toEqual({ leaderId: 3 });
    expect(error.cause).toBe(cause);
  });

  it('derives retriable from the Kafka table', () => {
    for (const [name, , retriable] of ERROR_TABLE) {
      expect(new RunnelError(name, 'x').retriable).toBe(retriable);
    }
  });

  const stale: ErrorCodeName[] = [
    'NOT_LEADER_OR_FOLLOWER', 'UNKNOWN_TOPIC_OR_PARTITION', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH',
    'LEADER_NOT_AVAILABLE', 'NOT_CONTROLLER', 'NOT_COORDINATOR', 'KAFKA_STORAGE_ERROR',
  ];
  const rejoin: ErrorCodeName[] = ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'];

  it('flags staleMetadata exactly for the errors that mean the caller\'s routing is out of date', () => {
    for (const [name] of ERROR_TABLE) {
      expect(new RunnelError(name, 'x').staleMetadata, name).toBe(stale.includes(name));
    }
  });

  it('flags mustRejoin exactly for the errors that mean the group moved on without the member', () => {
    for (const [name] of ERROR_TABLE) {
      expect(new RunnelError(name, 'x').mustRejoin, name).toBe(rejoin.includes(name));
    }
  });

  it('fromCode builds from a wire code and defaults the message to the description', () => {
    const error = RunnelError.fromCode(7);
    expect(error.codeName).toBe('REQUEST_TIMED_OUT');
    expect(error.message).toBe('The request timed out.');
    expect(error.retriable).toBe(true);
    expect(RunnelError.fromCode(104, 'other cluster').message).toBe('other cluster');
  });

  it('fromCode keeps an unknown wire code in details', () => {
    const error = RunnelError.fromCode(9999, 'from a newer peer', { details: { peer: 2 } });
    expect(error.codeName).toBe('UNKNOWN_SERVER_ERROR');
    expect(error.details).toEqual({ peer: 2, code: 9999 });
  });

  it('rejects a name that is not a Kafka error', () => {
    expect(isErrorCodeName('NOT_CONTROLLER')).toBe(true);
    expect(isErrorCodeName('NOT_A_CODE')).toBe(false);
    expect(() => new RunnelError('NOT_A_CODE' as ErrorCodeName, 'x')).toThrow(TypeError);
  });
});
