import type { Connection } from '../store/connections/index.js';
import { ConflictError } from '../domain/errors.js';
import { pollWithBackoff } from '../shared/poll.js';
import { tuningOf, type TokenDeps } from './connection-deps.js';

/**
 * The connection lease: one flow at a time changes a connection (connect's finish, reconnect,
 * disconnect, pending cleanup). It is an owner token + expiry on the connection item, taken
 * with a conditional write and released only by its owner (finishRun / markDisconnected are
 * conditional on leaseOwner = me), so a flow that outlived its lease can never release or
 * overwrite the next holder's work. A holder that dies leaves a lease that expires by itself.
 *
 * A flow that finds the lease taken waits (bounded, with backoff). When the holder it waited for
 * finishes, its `lastRun` (owner + outcome) is on the item; `shareResult` decides whether the
 * waiter answers with that result (ten Reconnect clicks = one piece of work) or runs itself.
 */
export type LeaseOutcome =
  | { kind: 'taken'; conn: Connection }
  | { kind: 'missing' }
  | { kind: 'shared'; conn: Connection; run: NonNullable<Connection['lastRun']> };

export async function acquireLease(
  deps: Pick<TokenDeps, 'connections' | 'clock' | 'sleeper' | 'tuning'>,
  userId: string,
  owner: string,
  shareResult: (run: NonNullable<Connection['lastRun']>) => boolean,
): Promise<LeaseOutcome> {
  const t = tuningOf(deps);
  const waitedFor = new Set<string>();
  const sharedRun = (conn: Connection) => {
    const run = conn.lastRun;
    if (run && waitedFor.has(run.owner) && conn.lease?.owner !== run.owner && shareResult(run)) return run;
    return undefined;
  };
  return pollWithBackoff<LeaseOutcome>(
    (ms) => deps.sleeper.sleep(ms),
    { initialMs: t.pollInitialMs, maxMs: t.pollMaxMs, budgetMs: t.leaseWaitMs },
    async () => {
      const attempt = await deps.connections.tryTakeLease(userId, owner, deps.clock.now(), t.leaseMs);
      if (attempt.taken) {
        const conn = await deps.connections.get(userId);
        if (!conn) return { value: { kind: 'missing' } };
        // The holder we waited for may have finished between our last look and our take: answer
        // its result rather than doing the same work again.
        const run = sharedRun(conn);
        if (run) {
          await deps.connections.releaseLease(userId, owner);
          return { value: { kind: 'shared', conn: { ...conn, lease: undefined }, run } };
        }
        return { value: { kind: 'taken', conn } };
      }
      const conn = attempt.current;
      if (!conn) return { value: { kind: 'missing' } };
      const run = sharedRun(conn);
      if (run) return { value: { kind: 'shared', conn, run } };
      if (conn.lease) waitedFor.add(conn.lease.owner);
      return undefined;
    },
    () => new ConflictError('connection_busy', 'Another change to this Calendly connection is still running; try again shortly.'),
    // Look before trying to take: the holder we waited for may have finished with a result to share.
    async () => {
      const seen = await deps.connections.get(userId);
      if (!seen) return { value: { kind: 'missing' } };
      const after = sharedRun(seen);
      return after ? { value: { kind: 'shared', conn: seen, run: after } } : undefined;
    },
  );
}
