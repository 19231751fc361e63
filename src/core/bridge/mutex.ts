/**
 * In-process FIFO mutex. The host's flock is per process (one fd), so two
 * concurrent writes in one JSContext must not both think they hold it: the
 * second would be "granted" at once and the first release would unlock it
 * mid-write. Lock acquisitions therefore queue here before asking the host.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that lets the next waiter in (call it exactly once). */
  lock(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const granted = this.tail.then(() => release);
    this.tail = mine;
    return granted;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
