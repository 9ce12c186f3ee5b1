// Deterministic orders: byte-order string comparison (never the host locale), so every iteration
// that can change the outcome gives the same result on every broker.

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedKeys<V>(map: ReadonlyMap<string, V>): string[] {
  return [...map.keys()].sort(compareIds);
}
