import { ERROR_TABLE } from './error-codes.js';
import type { ErrorCodeMap, ErrorCodeName } from './error-codes.js';

export type { ErrorCodeName } from './error-codes.js';

export interface ErrorInfo {
  name: ErrorCodeName;
  code: number;
  retriable: boolean;
  description: string;
}

/** Every Kafka error code by name, typed with literal values (ErrorCode.NOT_CONTROLLER is 41). */
export const ErrorCode: ErrorCodeMap = Object.freeze(
  Object.fromEntries(ERROR_TABLE.map(([name, code]) => [name, code])),
) as ErrorCodeMap;

const INFO_BY_CODE: ReadonlyMap<number, ErrorInfo> = new Map(
  ERROR_TABLE.map(([name, code, retriable, description]) => [code, Object.freeze({ name, code, retriable, description })]),
);

const INFO_BY_NAME: ReadonlyMap<string, ErrorInfo> = new Map([...INFO_BY_CODE.values()].map((info) => [info.name, info]));

/**
 * Looks up a code. A code newer than this table (a newer peer) is reported as UNKNOWN_SERVER_ERROR
 * with the original code kept, rather than throwing, because an error path must not itself fail.
 */
export function errorInfo(code: number): ErrorInfo {
  const info = INFO_BY_CODE.get(code);
  if (info !== undefined) return info;
  const unknown = INFO_BY_CODE.get(-1) as ErrorInfo;
  return { ...unknown, code, description: `Unknown error code ${code}. ${unknown.description}` };
}

export function isErrorCodeName(name: string): name is ErrorCodeName {
  return INFO_BY_NAME.has(name);
}

/** The caller's view is out of date: refresh metadata (or find the new leader) before retrying. */
const STALE_METADATA: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>([
  'NOT_LEADER_OR_FOLLOWER',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'LEADER_NOT_AVAILABLE',
  'NOT_CONTROLLER',
  'NOT_COORDINATOR',
  'KAFKA_STORAGE_ERROR',
]);

/** The group moved on without this member: retrying the same call cannot succeed, rejoining can. */
const MUST_REJOIN: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
]);

export interface RunnelErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/**
 * The one error type of Runnel. The decision flags come from the code alone, so callers choose
 * retry / refresh metadata / rejoin without parsing the message.
 */
export class RunnelError extends Error {
  readonly code: number;
  readonly codeName: ErrorCodeName;
  readonly retriable: boolean;
  readonly staleMetadata: boolean;
  readonly mustRejoin: boolean;
  readonly details: Record<string, unknown>;

  constructor(codeName: ErrorCodeName, message: string, options: RunnelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const info = INFO_BY_NAME.get(codeName);
    if (info === undefined) throw new TypeError(`unknown Kafka error code name: ${String(codeName)}`);
    this.name = 'RunnelError';
    this.code = info.code;
    this.codeName = codeName;
    this.retriable = info.retriable;
    this.staleMetadata = STALE_METADATA.has(codeName);
    this.mustRejoin = MUST_REJOIN.has(codeName);
    this.details = options.details ?? {};
  }

  /** From a wire code (e.g. a response's errorCode); unknown codes become UNKNOWN_SERVER_ERROR with details.code. */
  static fromCode(code: number, message?: string, options: RunnelErrorOptions = {}): RunnelError {
    const info = errorInfo(code);
    const details = INFO_BY_CODE.has(code) ? options.details : { ...options.details, code };
    return new RunnelError(info.name, message ?? info.description, { ...options, details });
  }

  override toString(): string {
    return `RunnelError[${this.codeName}(${this.code})]: ${this.message}`;
  }
}
