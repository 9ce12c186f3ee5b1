import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Where the .proto files live relative to the proto root; mirrors their `package runnel.v1`. */
const PROTO_SUBDIR = path.join('runnel', 'v1');

/**
 * One set of conversion options for every process, so a message decoded by one node has the same
 * shape as the one its peer encoded: camelCase fields, uint64/int64 as JS numbers (indexes and
 * terms stay far below 2^53), enums as their names, absent scalars as proto3 defaults, and a
 * virtual field naming the set member of each oneof. `bytes` stay Buffers (the loader default).
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/**
 * The proto root: the directory holding `runnel/v1/*.proto`. RUNNEL_PROTO_DIR wins so installs that
 * ship the protos elsewhere still work; otherwise the repo's `proto/`, found from this file's
 * location (packages/protocol/{src,dist}/proto-loader.js -> ../../../proto) so it does not depend
 * on the working directory.
 */
export function protoRoot(): string {
  const fromEnv = process.env['RUNNEL_PROTO_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  return path.resolve(fileURLToPath(new URL('../../../proto/', import.meta.url)));
}

let cached: grpc.GrpcObject | undefined;

/** Loads every runnel/v1 .proto once per process; later calls return the same object. */
export function loadProtos(): grpc.GrpcObject {
  if (cached !== undefined) return cached;
  const root = protoRoot();
  const protoDir = path.join(root, PROTO_SUBDIR);
  if (!existsSync(protoDir)) {
    throw new Error(`Runnel .proto files not found in ${protoDir}: set RUNNEL_PROTO_DIR to the directory holding runnel/v1/`);
  }
  // Sorted so the load order (and any duplicate-definition error) is the same on every machine.
  const files = readdirSync(protoDir)
    .filter((name) => name.endsWith('.proto'))
    .sort()
    .map((name) => path.posix.join('runnel', 'v1', name));
  if (files.length === 0) throw new Error(`no .proto files in ${protoDir}`);
  const definition = protoLoader.loadSync(files, { ...PROTO_LOADER_OPTIONS, includeDirs: [root] });
  cached = grpc.loadPackageDefinition(definition);
  return cached;
}

/** The client constructor of a runnel.v1 service, e.g. `serviceConstructor('Raft')`. */
export function serviceConstructor(serviceName: string): grpc.ServiceClientConstructor {
  const runnel = loadProtos()['runnel'] as grpc.GrpcObject | undefined;
  const v1 = runnel?.['v1'] as grpc.GrpcObject | undefined;
  const ctor = v1?.[serviceName];
  if (typeof ctor !== 'function' || !('service' in ctor)) {
    throw new Error(`service runnel.v1.${serviceName} is not defined in ${protoRoot()}`);
  }
  return ctor;
}
