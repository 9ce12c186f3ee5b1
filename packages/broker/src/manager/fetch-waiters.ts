// The delayed-fetch purgatory: a long-poll fetch parks here until an append or a high-watermark
// change on one of its partitions wakes it, its deadline passes, or its caller gives up. Event
// driven (Kafka's DelayedFetch), so an idle consumer costs a timer, not a polling loop.

export type WakeReason = 'wake' | 'timeout' | 'aborted';

export class FetchWaiters {
  private readonly byKey = new Map<string, Set<() => void>>();

  /** Resolves at the first wake of any of `keys`, after `timeoutMs`, or when `signal` aborts. */
  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (signal?.aborted === true) return Promise.resolve('aborted');
    return new Promise<WakeReason>((resolve) => {
      let done = false;
      const finish = (reason: WakeReason): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const key of keys) {
          const set = this.byKey.get(key);
          set?.delete(onWake);
          if (set?.size === 0) this.byKey.delete(key);
        }
        resolve(reason);
      };
      const onWake = (): void => finish('wake');
      const onAbort = (): void => finish('aborted');
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort);
      for (const key of keys) {
        let set = this.byKey.get(key);
        if (set === undefined) {
          set = new Set();
          this.byKey.set(key, set);
        }
        set.add(onWake);
      }
    });
  }

  wake(key: string): void {
    const set = this.byKey.get(key);
    if (set === undefined) return;
    for (const onWake of [...set]) onWake();
  }

  wakeAll(): void {
    for (const key of [...this.byKey.keys()]) this.wake(key);
  }

  get size(): number {
    let total = 0;
    for (const set of this.byKey.values()) total += set.size;
    return total;
  }
}
