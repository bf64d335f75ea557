/** One page of Calendly's scheduled events (and their invitees) into the meetings table. */
import type { Invitee, ScheduledEvent } from '../../calendly/port.js';
import { isCalendlyError, isOrganizationFilterRequired } from '../../calendly/port.js';
import { logger } from '../../shared/logger.js';
import type { SyncRun } from '../../store/sync-state.js';
import { storePageUpdates } from './store-events.js';
import type { StoredEventMark, SyncedMark } from '../../store/meetings/index.js';
import { compareInstants, eventIdOf } from '../../domain/meeting/index.js';
import { LongRateLimitError, type SyncConnectionView, type SyncDeps, type SyncMeetingUpdate, type SyncOptions } from './types.js';

export class TokenSession {
  private token: Promise<string> | undefined;
  private obtainedAt = 0;
  private refreshedThisPage = false;
  constructor(
    private readonly deps: SyncDeps,
    private readonly userId: string,
    private readonly reuseMs: number,
  ) {}
  startPage() {
    this.refreshedThisPage = false;
  }
  current(): Promise<string> {
    const now = this.deps.clock.now();
    if (!this.token || now - this.obtainedAt >= this.reuseMs) return this.hold(this.deps.getAccessToken(this.userId), now);
    return this.token;
  }
  async onUnauthorized(badToken: string): Promise<string> {
    const held = this.current();
    const cur = await held;
    if (cur !== badToken) return cur;
    // Another call's 401 already replaced it meanwhile: share that refresh.
    if (this.token && this.token !== held) return this.token;
    if (this.refreshedThisPage) throw new Error('Calendly refused a freshly refreshed token');
    this.refreshedThisPage = true;
    return this.hold(this.deps.getAccessToken(this.userId, { knownBadToken: badToken }), this.deps.clock.now());
  }
  private hold(p: Promise<string>, at: number): Promise<string> {
    this.token = p;
    this.obtainedAt = at;
    // A failed read is not kept: the next call asks again.
    p.catch(() => {
      if (this.token === p) this.token = undefined;
    });
    return p;
  }
}

/**
 * The page's waits for the rate budget. The invitee lists run several at once, and when the
 * window's budget is spent they all learn it together: they share one wait (counted once), so a
 * spent window costs one pause, not one per worker.
 */
interface PageBudget {
  waits: number;
  /** The wait in progress, while there is one. */
  pause?: Promise<void>;
}

async function callCalendly<T>(
  deps: SyncDeps,
  opts: SyncOptions,
  session: TokenSession,
  budget: PageBudget,
  fn: (token: string) => Promise<T>,
): Promise<T> {
  let token = await session.current();
  for (;;) {
    try {
      return await fn(token);
    } catch (e) {
      if (isCalendlyError(e, 'unauthenticated')) {
        token = await session.onUnauthorized(token);
        continue;
      }
      if (isCalendlyError(e, 'rate_limited')) {
        const waitMs = e.retryAfterMs ?? 60_000;
        if (budget.pause) {
          // Another worker is already waiting for this window to reset: wait with it.
          await budget.pause;
          continue;
        }
        if (waitMs <= opts.maxInlineWaitMs && budget.waits < opts.maxInlineWaitsPerPage) {
          budget.waits += 1;
          logger.info('sync rate limited; waiting', { waitMs });
          const pause = deps.sleeper.sleep(waitMs).finally(() => {
            if (budget.pause === pause) delete budget.pause;
          });
          budget.pause = pause;
          await pause;
          continue;
        }
        throw new LongRateLimitError(waitMs);
      }
      throw e;
    }
  }
}

/** Fetches one page of events and their invitees, stores them, answers the next cursor. */
export async function syncPage(deps: SyncDeps, opts: SyncOptions, userId: string, conn: SyncConnectionView, run: SyncRun, session: TokenSession) {
  session.startPage();
  const budget: PageBudget = { waits: 0 };
  // `user` alone is the documented way to list one's own events (`organization` needs an admin).
  // Some accounts answer it with a 403 asking for the organization too: then both are sent, once,
  // and the form is remembered on the connection (this view is held across pages too).
  const list = (token: string, withOrganization: boolean) =>
    deps.calendly.listScheduledEventsPage(token, {
      user: conn.calendlyUserUri as string,
      ...(withOrganization && conn.organizationUri ? { organization: conn.organizationUri } : {}),
      minStartTime: run.minStartTime,
      maxStartTime: run.maxStartTime,
      count: opts.pageSize,
      sort: 'start_time:asc',
      ...(run.pageToken ? { pageToken: run.pageToken } : {}),
    });
  const both = conn.eventsFilter === 'user_and_organization';
  let page;
  try {
    page = await callCalendly(deps, opts, session, budget, (token) => list(token, both));
  } catch (e) {
    if (both || !conn.organizationUri || !isOrganizationFilterRequired(e)) throw e;
    page = await callCalendly(deps, opts, session, budget, (token) => list(token, true));
    conn.eventsFilter = 'user_and_organization';
    logger.info('scheduled events need the organization filter for this connection', { userId });
    await deps.rememberEventsFilter?.(userId, conn.calendlyUserUri as string, 'user_and_organization').catch((err: unknown) => {
      logger.warn('could not remember the events filter; the next sync learns it again', { userId, error: err });
    });
  }

  // An event whose updated_at and invitee counts match what the last full fetch stored needs no
  // invitee call (nor any write): a sync that finds nothing new costs one Calendly call per page.
  const { marks } = deps.eventMarks ? await deps.eventMarks(userId, page.items.map((e) => e.uri)) : { marks: new Map<string, StoredEventMark>() };
  const fresh = page.items.filter((e) => !unchanged(e, marks.get(e.uri)));
  const unfetched = page.items.length - fresh.length;

  const inviteesByEvent = new Array<Invitee[]>(fresh.length);
  let next = 0;
  const worker = async () => {
    while (next < fresh.length) {
      const i = next++;
      const event = fresh[i] as ScheduledEvent;
      inviteesByEvent[i] = await callCalendly(deps, opts, session, budget, async (token) => {
        const out: Invitee[] = [];
        for await (const inv of deps.calendly.listEventInvitees(token, event.uri)) out.push(inv);
        return out;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.inviteeConcurrency, fresh.length) }, worker));

  const observedAt = new Date(deps.clock.now()).toISOString();
  const updates: SyncMeetingUpdate[] = [];
  const synced = new Map<string, SyncedMark>();
  fresh.forEach((event, i) => {
    updates.push({ eventUri: event.uri, event, observedAt });
    for (const invitee of inviteesByEvent[i] ?? []) updates.push({ eventUri: event.uri, invitee, observedAt });
    const id = eventIdOf(event.uri);
    if (id && event.inviteesCounter) synced.set(id, { updatedAt: event.updatedAt, total: event.inviteesCounter.total, active: event.inviteesCounter.active });
  });
  const stored = await storePageUpdates(deps, userId, updates, { synced });
  return {
    events: page.items.length,
    nextPageToken: page.nextPageToken,
    applied: stored.applied,
    unchanged: stored.unchanged + unfetched,
    skipped: stored.skipped,
  };
}

/** The stored event is what Calendly shows now: same updated_at, same invitee counts. */
function unchanged(e: ScheduledEvent, mark: StoredEventMark | undefined): boolean {
  const m = mark?.synced;
  if (!m || !e.inviteesCounter) return false;
  return (
    compareInstants(m.updatedAt, e.updatedAt) === 0 &&
    compareInstants(mark.updatedAt, e.updatedAt) >= 0 &&
    m.total === e.inviteesCounter.total &&
    m.active === e.inviteesCounter.active
  );
}
