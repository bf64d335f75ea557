/**
 * The one wait-and-retry loop: try, and while the answer is "not yet", sleep (doubling from
 * `initialMs` up to `maxMs`) and try again, until `budgetMs` of sleep is spent. Used for leases
 * held elsewhere and for the items DynamoDB leaves unprocessed in a batch.
 */

/** `{ value }` ends the poll with that value; undefined means "not yet". */
export type Polled<T> = { value: T } | undefined;

export interface PollPlan {
  initialMs: number;
  maxMs: number;
  /** Total sleep after which the poll gives up (checked before each sleep). */
  budgetMs: number;
}

export async function pollWithBackoff<T>(
  sleep: (ms: number) => Promise<void>,
  plan: PollPlan,
  attempt: () => Promise<Polled<T>>,
  exhausted: () => Error,
  /** Asked right after each sleep, before the next attempt (a cheaper look that may end the poll). */
  afterWait?: () => Promise<Polled<T>>,
): Promise<T> {
  let waited = 0;
  let delay = plan.initialMs;
  for (;;) {
    const tried = await attempt();
    if (tried) return tried.value;
    if (waited >= plan.budgetMs) throw exhausted();
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, plan.maxMs);
    const seen = await afterWait?.();
    if (seen) return seen.value;
  }
}
