// A promise that settles exactly once, under a deadline. Every wait the node hands out (proposal,
// read, leadership transfer) is one of these, so no caller can hang on a node that lost leadership
// or stopped hearing from its peers.

export class Waiter<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: Error) => void;
  private readonly timer: NodeJS.Timeout;
  private settledValue = false;

  /** `onTimeout` builds the rejection and may unregister the waiter wherever it is kept. */
  constructor(timeoutMs: number, onTimeout: () => Error) {
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`timeoutMs must be a positive finite number, got ${timeoutMs}`);
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.timer = setTimeout(() => this.reject(onTimeout()), timeoutMs);
    // The node's tick interval keeps the process alive while it runs; a pending wait alone should not.
    this.timer.unref();
  }

  get settled(): boolean {
    return this.settledValue;
  }

  resolve(value: T): void {
    if (this.settledValue) return;
    this.settledValue = true;
    clearTimeout(this.timer);
    this.resolveFn(value);
  }

  reject(error: Error): void {
    if (this.settledValue) return;
    this.settledValue = true;
    clearTimeout(this.timer);
    this.rejectFn(error);
  }
}
