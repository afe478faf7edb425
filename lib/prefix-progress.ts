/**
 * Progress over an ordered list worked on in parallel: items finish out of order, but what a
 * heartbeat can promise is the prefix that is all done, so a retry starts there and re-checks the
 * few items after it (copies skip files already present).
 */
export class PrefixProgress {
  private readonly finished = new Set<number>();
  private next: number;

  constructor(start = 0) {
    this.next = start;
  }

  /** Marks item i done and advances the watermark over every finished item. */
  done(i: number): void {
    this.finished.add(i);
    while (this.finished.delete(this.next)) this.next++;
  }

  /** Number of leading items that are all done. */
  get watermark(): number {
    return this.next;
  }
}
