/**
 * Coalesces durability requests into as few fsyncs as possible. A request is satisfied by the first
 * sync that *starts* after it was made (only that one is sure to cover what the caller appended), so
 * requests arriving while a sync is in flight share the next one. Requests made in the same turn of
 * the event loop share one sync: the round starts on a microtask, after they have all queued.
 */
export class GroupCommit {
  private running = false;
  private scheduled = false;
  private waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private idleWaiters: Array<() => void> = [];
  private rounds = 0;

  constructor(private readonly sync: () => Promise<void>) {}

  /** Number of syncs run so far (for metrics and tests). */
  get syncCount(): number {
    return this.rounds;
  }

  get inFlight(): boolean {
    return this.running;
  }

  request(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once no sync is running or queued (used before closing files). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.waiting.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.round();
    });
  }

  private async round(): Promise<void> {
    this.running = true;
    const batch = this.waiting;
    this.waiting = [];
    this.rounds += 1;
    try {
      await this.sync();
      for (const waiter of batch) waiter.resolve();
    } catch (err) {
      for (const waiter of batch) waiter.reject(err);
    } finally {
      this.running = false;
      if (this.waiting.length > 0) {
        this.schedule();
      } else {
        const idle = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of idle) resolve();
      }
    }
  }
}
