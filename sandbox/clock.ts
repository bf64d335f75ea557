/**
 * The sandbox clock: a base wall clock (injectable, so tests are deterministic) plus whatever
 * `advance()` added. Token and code expiry, rate windows, delivery retries and every timestamp
 * the sandbox writes read this clock, never Date.now() directly.
 */
export class SandboxClock {
  /** What advance() has added to the base clock (kept in snapshots). */
  offset = 0;

  constructor(private readonly base: () => number = Date.now) {}

  now(): number {
    return this.base() + this.offset;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('advance(ms) needs a non-negative number');
    this.offset += ms;
  }
}
