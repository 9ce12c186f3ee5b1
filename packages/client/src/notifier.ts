/**
 * A wake-up signal for loops that sleep until something changes: wait() resolves on the next
 * notify() or after timeoutMs, whichever comes first, so every wait is bounded.
 */
export class Notifier {
  private waiters: Array<() => void> = [];

  /** Resolves on the next notify(), or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, Math.max(0, timeoutMs));
      this.waiters.push(done);
    });
  }

  /** Wakes every current waiter. */
  notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
