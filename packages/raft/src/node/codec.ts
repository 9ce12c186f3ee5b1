// Binary codec for what the metadata log keeps in LevelDB. Metadata entries are small (around 1 KiB),
// so a fixed header plus raw payload bytes beats JSON+base64 in size and in time. Every value opens
// with a version byte, so a later layout can read the old one instead of misparsing it.
//
// Grammar (all integers big-endian; "u53" is a u64 on disk whose value must fit a JS safe integer):
//   entry      := version:u8 index:u53 term:u53 type:u8 data:bytes(rest)
//   hardState  := version:u8 term:u53 votedFor:u32 commitIndex:u53
//   snapshot   := version:u8 index:u53 term:u53 voterCount:u32 voter:u32{voterCount} data:bytes(rest)
// An entry's type byte is 0 for 'normal' and 1 for 'noop', as in the proto's EntryType.

import type { Entry, EntryType, HardState, Snapshot } from '../core/types.js';

const CODEC_VERSION = 1;
const U53_BYTES = 8;
const U32_BYTES = 4;
const ENTRY_HEADER_BYTES = 1 + U53_BYTES + U53_BYTES + 1;
const HARD_STATE_BYTES = 1 + U53_BYTES + U32_BYTES + U53_BYTES;
const SNAPSHOT_HEADER_BYTES = 1 + U53_BYTES + U53_BYTES + U32_BYTES;

const ENTRY_TYPE_CODES: Readonly<Record<EntryType, number>> = { normal: 0, noop: 1 };

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

function entryTypeFromCode(code: number): EntryType {
  if (code === 0) return 'normal';
  if (code === 1) return 'noop';
  throw new CodecError(`unknown entry type code ${code}`);
}

/**
 * A plain Uint8Array copy: the value does not pin the reader's (possibly pooled) buffer, and a
 * Buffer input does not leak Buffer into code that compares with plain Uint8Arrays.
 */
function copyFrom(bytes: Uint8Array, offset: number): Uint8Array {
  return new Uint8Array(bytes.subarray(offset));
}

function writeU53(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new CodecError(`not a non-negative safe integer: ${value}`);
  view.setUint32(offset, Math.floor(value / 2 ** 32));
  view.setUint32(offset + U32_BYTES, value >>> 0);
}

function readU53(view: DataView, offset: number): number {
  const high = view.getUint32(offset);
  if (high >= 2 ** 21) throw new CodecError(`u64 at offset ${offset} exceeds 2^53`);
  return high * 2 ** 32 + view.getUint32(offset + U32_BYTES);
}

function checkHeader(bytes: Uint8Array, minBytes: number, what: string): DataView {
  if (bytes.byteLength < minBytes) throw new CodecError(`${what}: ${bytes.byteLength} bytes, need at least ${minBytes}`);
  const version = bytes[0];
  if (version !== CODEC_VERSION) throw new CodecError(`${what}: unsupported codec version ${String(version)}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_BYTES + entry.data.byteLength);
  const view = new DataView(out.buffer);
  out[0] = CODEC_VERSION;
  writeU53(view, 1, entry.index);
  writeU53(view, 1 + U53_BYTES, entry.term);
  out[1 + 2 * U53_BYTES] = ENTRY_TYPE_CODES[entry.type];
  out.set(entry.data, ENTRY_HEADER_BYTES);
  return out;
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const view = checkHeader(bytes, ENTRY_HEADER_BYTES, 'entry');
  return {
    index: readU53(view, 1),
    term: readU53(view, 1 + U53_BYTES),
    type: entryTypeFromCode(view.getUint8(1 + 2 * U53_BYTES)),
    data: copyFrom(bytes, ENTRY_HEADER_BYTES),
  };
}

export function encodeHardState(hardState: HardState): Uint8Array {
  const out = new Uint8Array(HARD_STATE_BYTES);
  const view = new DataView(out.buffer);
  out[0] = CODEC_VERSION;
  writeU53(view, 1, hardState.term);
  view.setUint32(1 + U53_BYTES, hardState.votedFor);
  writeU53(view, 1 + U53_BYTES + U32_BYTES, hardState.commitIndex);
  return out;
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const view = checkHeader(bytes, HARD_STATE_BYTES, 'hard state');
  if (bytes.byteLength !== HARD_STATE_BYTES) throw new CodecError(`hard state: ${bytes.byteLength} bytes, expected ${HARD_STATE_BYTES}`);
  return {
    term: readU53(view, 1),
    votedFor: view.getUint32(1 + U53_BYTES),
    commitIndex: readU53(view, 1 + U53_BYTES + U32_BYTES),
  };
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const { metadata } = snapshot;
  const votersBytes = metadata.voters.length * U32_BYTES;
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + votersBytes + snapshot.data.byteLength);
  const view = new DataView(out.buffer);
  out[0] = CODEC_VERSION;
  writeU53(view, 1, metadata.index);
  writeU53(view, 1 + U53_BYTES, metadata.term);
  view.setUint32(1 + 2 * U53_BYTES, metadata.voters.length);
  metadata.voters.forEach((voter, i) => view.setUint32(SNAPSHOT_HEADER_BYTES + i * U32_BYTES, voter));
  out.set(snapshot.data, SNAPSHOT_HEADER_BYTES + votersBytes);
  return out;
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const view = checkHeader(bytes, SNAPSHOT_HEADER_BYTES, 'snapshot');
  const voterCount = view.getUint32(1 + 2 * U53_BYTES);
  const dataOffset = SNAPSHOT_HEADER_BYTES + voterCount * U32_BYTES;
  if (bytes.byteLength < dataOffset) throw new CodecError(`snapshot: ${voterCount} voters do not fit in ${bytes.byteLength} bytes`);
  const voters: number[] = [];
  for (let i = 0; i < voterCount; i++) voters.push(view.getUint32(SNAPSHOT_HEADER_BYTES + i * U32_BYTES));
  return {
    metadata: { index: readU53(view, 1), term: readU53(view, 1 + U53_BYTES), voters },
    data: copyFrom(bytes, dataOffset),
  };
}
