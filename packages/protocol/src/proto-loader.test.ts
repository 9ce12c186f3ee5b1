import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { loadProtos, protoRoot, serviceConstructor } from './proto-loader.js';

describe('loadProtos', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('loads both runnel.v1 services with their methods', () => {
    const raft = serviceConstructor('Raft').service;
    const quorum = serviceConstructor('Quorum').service;
    expect(Object.keys(raft)).toEqual(['Deliver']);
    expect(Object.keys(quorum).sort()).toEqual(['Describe', 'Propose', 'TransferLeadership']);
    expect(raft['Deliver']?.path).toBe('/runnel.v1.Raft/Deliver');
  });

  it('loads the messages too', () => {
    const v1 = (loadProtos()['runnel'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
    expect(v1['RaftBatch']).toBeDefined();
    expect(v1['DescribeQuorumResponse']).toBeDefined();
  });

  it('is cached: later calls return the same object', () => {
    expect(loadProtos()).toBe(loadProtos());
  });

  it('finds the repo proto directory without any environment', () => {
    vi.stubEnv('RUNNEL_PROTO_DIR', '');
    expect(protoRoot()).toBe(path.resolve(import.meta.dirname, '../../../proto'));
  });

  it('honours RUNNEL_PROTO_DIR', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runnel-proto-'));
    try {
      cpSync(path.resolve(import.meta.dirname, '../../../proto'), dir, { recursive: true });
      vi.stubEnv('RUNNEL_PROTO_DIR', dir);
      vi.resetModules();
      const fresh = await import('./proto-loader.js');
      expect(fresh.protoRoot()).toBe(dir);
      expect(Object.keys(fresh.serviceConstructor('Raft').service)).toEqual(['Deliver']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where it looked when RUNNEL_PROTO_DIR has no protos', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runnel-proto-empty-'));
    try {
      vi.stubEnv('RUNNEL_PROTO_DIR', dir);
      vi.resetModules();
      const fresh = await import('./proto-loader.js');
      expect(() => fresh.loadProtos()).toThrow(/RUNNEL_PROTO_DIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
