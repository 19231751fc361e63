/**
 * In-process FIFO mutex. The host's flock is per process (one fd), so two
 * concurrent writes in one JSContext must not both think they hold it: the
 * second would be "granted" at once and the first release would unlock it
 * mid-write. Writes therefore queue here before asking the host for the lock.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
