/**
 * Pending-inbox operations in flight (appends, marker writes, scans): each holds the inbox file
 * lock, so a suspension waits them out before it reports `suspended` (docs/processes.md).
 */
export class InboxWrites {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly onWait: (inFlight: number) => void) {}

  track<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    const settled = p.catch(() => {});
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
    return p;
  }

  /**
   * Wait out the ones in flight (one write + sync each, bounded by the operation's own lock
   * timeout). New ones cannot start: the database class is blocked once suspension began.
   */
  async idle(): Promise<void> {
    for (let round = 0; round < 100 && this.inFlight.size > 0; round++) {
      this.onWait(this.inFlight.size);
      await Promise.all([...this.inFlight]);
    }
  }
}
