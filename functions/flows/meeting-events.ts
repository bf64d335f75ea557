/**
 * Publishing `Meeting Changed` events after the write that recorded them (store/meetings/outbox.ts),
 * and the sweep (run with each health check of a connection) that publishes what a crash or an
 * outage left behind.
 *
 * A write's events are on its items before anything is published, so publishing is never what
 * makes a change durable: a failure here is logged and counted, never answered as an error. What
 * the publisher could not deliver stays on the outbox; the health worker's sweep publishes it
 * again. Publishing an event twice is harmless: consumers dedupe on (eventUri, version).
 */
import type { MeetingChangedEvent } from '../domain/meeting-events.js';
import type { MeetingEventPublisher } from '../ports.js';
import { logger } from '../shared/logger.js';
import type { MeetingStore, WrittenOutbox } from '../store/meetings/index.js';

export interface MeetingEventsDeps {
  publisher: MeetingEventPublisher;
  meetings: Pick<MeetingStore, 'clearOutbox'>;
  metric(name: 'MeetingEventsUnpublished', value: number): void;
}

export interface PublishOutcome {
  published: number;
  /** Events left on their outbox for the sweep. */
  unpublished: number;
}

/** Publishes the events of these writes and clears the outbox of each item whose events all went out. */
export async function publishWritten(deps: MeetingEventsDeps, written: readonly WrittenOutbox[]): Promise<PublishOutcome> {
  const events = written.flatMap((w) => w.events);
  if (events.length === 0) return { published: 0, unpublished: 0 };
  let failed: readonly MeetingChangedEvent[];
  try {
    ({ failed } = await deps.publisher.publish(events));
  } catch (error) {
    failed = events;
    logger.warn('meeting events not published; they stay pending for the sweep', { events: events.length, error });
  }
  if (failed.length > 0) {
    deps.metric('MeetingEventsUnpublished', failed.length);
    logger.warn('meeting events refused by the bus; they stay pending for the sweep', { refused: failed.length, of: events.length });
  }
  const refused = new Set(failed);
  const done = written.filter((w) => w.events.length > 0 && w.events.every((e) => !refused.has(e)));
  if (done.length > 0) {
    try {
      await deps.meetings.clearOutbox(done);
    } catch (error) {
      // Published but still on record: the sweep publishes them once more (consumers dedupe).
      logger.warn('published meeting events not cleared from the outbox', { items: done.length, error });
    }
  }
  return { published: events.length - failed.length, unpublished: failed.length };
}

export interface SweepDeps extends MeetingEventsDeps {
  meetings: Pick<MeetingStore, 'clearOutbox' | 'pendingOutbox'>;
  clock: { now(): number };
}

export interface SweepOptions {
  /** Only events pending for longer than this: a write's own publish is normally done within it. */
  graceMs: number;
  /** Items per page, and pages per sweep (the rest waits for the next tick). */
  pageSize: number;
  maxPages: number;
}

export const DEFAULT_SWEEP_OPTIONS: SweepOptions = { graceMs: 60_000, pageSize: 100, maxPages: 10 };

/** Publishes a user's events that stayed on an outbox past the grace period; bounded per call. */
export async function sweepMeetingEvents(deps: SweepDeps, userId: string, opts: Partial<SweepOptions> = {}): Promise<PublishOutcome & { items: number }> {
  const o = { ...DEFAULT_SWEEP_OPTIONS, ...opts };
  const before = new Date(deps.clock.now() - o.graceMs).toISOString();
  const total = { published: 0, unpublished: 0, items: 0 };
  for (let page = 0; page < o.maxPages; page++) {
    const { written } = await deps.meetings.pendingOutbox({ userId, before, limit: o.pageSize });
    if (written.length === 0) break;
    const out = await publishWritten(deps, written);
    total.published += out.published;
    total.unpublished += out.unpublished;
    total.items += written.length;
    // What could not be published stays listed: do not read it again in this sweep.
    if (out.unpublished > 0 || written.length < o.pageSize) break;
  }
  if (total.items > 0) logger.info('meeting events swept', { userId, ...total });
  return total;
}
