/**
 * Meeting Changed events from the meetings store's outbox, over dynalite: what each kind of
 * change publishes, that a duplicate publishes nothing, that versions only increase, that a
 * process killed between the write and the publish still has its events published by the sweep,
 * and that a disconnected user's purge publishes nothing.
 */
import { spawn } from 'node:child_process';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toApiMeeting, type ApiMeeting, type MeetingState, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import type { MeetingChangedEvent } from '../../functions/domain/meeting-events.js';
import { publishWritten, sweepMeetingEvents } from '../../functions/flows/meeting-events.js';
import type { MeetingEventPublisher } from '../../functions/ports.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { API_NS, at, inviteePayload, scenarioArb, upd } from './scenarios.js';

/** A bus that records what it accepts; `refuse` makes it refuse everything (an outage). */
function recordingBus() {
  const events: MeetingChangedEvent[] = [];
  let refuse = false;
  const publisher: MeetingEventPublisher = {
    publish: async (batch) => {
      if (refuse) return { failed: [...batch] };
      events.push(...batch);
      return { failed: [] };
    },
  };
  return { publisher, events, setRefusing: (on: boolean) => void (refuse = on) };
}

const summary = (events: readonly MeetingChangedEvent[]) => events.map((e) => [e.detail.change, e.detail.version]);

describe('Meeting Changed events from the meetings store (dynalite)', () => {
  let db: TestDynamo;
  let store: MeetingStore;
  const metrics: Array<[string, number]> = [];

  beforeAll(async () => {
    db = await startDynalite();
    store = createMeetingStore(db.doc, db.tables.meetings);
  });
  afterAll(async () => db.close());

  async function partition(userId: string): Promise<Record<string, unknown>[]> {
    const res = await db.doc.send(new ScanCommand({ TableName: db.tables.meetings, ConsistentRead: true }));
    return (res.Items ?? []).filter((i) => i.userId === userId);
  }

  /** Applies and publishes as the webhook does; answers what was published by this delivery. */
  async function deliver(bus: ReturnType<typeof recordingBus>, userId: string, update: MeetingUpdate) {
    const before = bus.events.length;
    const r = await store.apply(userId, update);
    await publishWritten({ publisher: bus.publisher, meetings: store, metric: (n, v) => void metrics.push([n, v]) }, r.written);
    return { outcome: r.outcome, published: bus.events.slice(before) };
  }

  it('each kind of change publishes exactly one event; a duplicate publishes nothing; versions increase; the outbox is cleared', async () => {
    const bus = recordingBus();
    const u = 'kinds-user';
    const ev = 'KINDS1';
    const event = (updatedAt: string, more: Record<string, unknown> = {}) => ({ updatedAt, name: 'Workshop', ...more });
    const steps: Array<[string, MeetingUpdate, Array<[string, number]>]> = [
      ['first booking', upd('invitee.created', inviteePayload({ ev, inv: 'A', updatedAt: at(1), event: event(at(1)) })), [['created', 1]]],
      ['the same delivery again', upd('invitee.created', inviteePayload({ ev, inv: 'A', updatedAt: at(1), event: event(at(1)) })), []],
      ['a second invitee', upd('invitee.created', inviteePayload({ ev, inv: 'B', updatedAt: at(2), event: event(at(1)) })), [['invitee_added', 2]]],
      ['renamed', upd('invitee.created', inviteePayload({ ev, inv: 'B', updatedAt: at(2), event: event(at(3), { name: 'Workshop II' }) })), [['updated', 3]]],
      ['moved', upd('invitee.created', inviteePayload({ ev, inv: 'B', updatedAt: at(2), event: event(at(4), { name: 'Workshop II', startTime: '2026-06-02T15:00:00.000000Z' }) })), [['rescheduled', 4]]],
      ['no-show marked', upd('invitee_no_show.created', inviteePayload({ ev, inv: 'A', updatedAt: at(1), noShow: { uri: `${API_NS}/N1`, created_at: at(5) } }), at(5)), [['no_show_set', 5]]],
      ['no-show removed', upd('invitee_no_show.deleted', inviteePayload({ ev, inv: 'A', updatedAt: at(1) }), at(6)), [['no_show_cleared', 6]]],
      ['an invitee cancels', upd('invitee.canceled', inviteePayload({ ev, inv: 'B', status: 'canceled', updatedAt: at(7) })), [['invitee_canceled', 7]]],
      ['the host cancels', upd('invitee.canceled', inviteePayload({ ev, inv: 'A', status: 'canceled', updatedAt: at(8), event: event(at(8), { name: 'Workshop II', startTime: '2026-06-02T15:00:00.000000Z', status: 'canceled' }) })), [['canceled', 8], ['invitee_canceled', 9]]],
      ['the cancellation again', upd('invitee.canceled', inviteePayload({ ev, inv: 'A', status: 'canceled', updatedAt: at(8), event: event(at(8), { name: 'Workshop II', startTime: '2026-06-02T15:00:00.000000Z', status: 'canceled' }) })), []],
    ];
    for (const [what, update, expected] of steps) {
      const { published } = await deliver(bus, u, update);
      expect(summary(published), what).toEqual(expected);
      for (const e of published) expect(e.detail).toMatchObject({ userId: u, eventUri: update.eventUri });
    }
    // Each event carries the meeting as that write left it.
    expect(bus.events[0]?.detail.meeting).toMatchObject({ name: 'Workshop', status: 'active', invitees: [{ email: 'A@example.com' }] });
    expect(bus.events.find((e) => e.detail.change === 'rescheduled')?.detail.meeting.startTime).toBe('2026-06-02T15:00:00.000Z');
    expect(bus.events.find((e) => e.detail.change === 'no_show_set')?.detail.meeting.invitees).toEqual([expect.objectContaining({ email: 'A@example.com', noShow: true })]);
    expect(bus.events.at(-1)?.detail.meeting.status).toBe('canceled');
    // Published and cleared: no item keeps an outbox.
    expect((await partition(u)).filter((i) => i.outbox !== undefined || i.outboxKey !== undefined)).toEqual([]);
  });

  it('older payloads without the event snapshot: the first invitee creates the meeting, the next is invitee_added', async () => {
    const bus = recordingBus();
    const u = 'old-shape-user';
    const first = await deliver(bus, u, upd('invitee.created', inviteePayload({ ev: 'OLD1', inv: 'A', updatedAt: at(1), event: null })));
    const second = await deliver(bus, u, upd('invitee.created', inviteePayload({ ev: 'OLD1', inv: 'B', updatedAt: at(2), event: null })));
    expect([...summary(first.published), ...summary(second.published)]).toEqual([['created', 1], ['invitee_added', 2]]);
  });

  it('property: any order and duplication of deliveries publishes increasing versions whose fold is the stored meeting', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ shuffled }) => {
        const bus = recordingBus();
        const userId = `prop-${run++}`;
        for (const update of shuffled) await deliver(bus, userId, update);
        const versions = bus.events.map((e) => e.detail.version);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
        expect(new Set(versions).size).toBe(versions.length);
        // A consumer that keeps, per meeting, the event fields of the latest version and each
        // invitee as the latest version that carried it, holds what the store holds.
        const stored = await store.get(userId, 'E1');
        if (!stored) return expect(bus.events).toEqual([]);
        expect(bus.events.length).toBeGreaterThan(0);
        const folded = new Map<string, ApiMeeting['invitees'][number]>();
        for (const e of bus.events) for (const i of e.detail.meeting.invitees) folded.set(i.uri, i);
        const last = bus.events.at(-1)?.detail.meeting as ApiMeeting;
        const want = toApiMeeting(stored as MeetingState);
        expect({ name: last.name, startTime: last.startTime, endTime: last.endTime, location: last.location }).toEqual({ name: want.name, startTime: want.startTime, endTime: want.endTime, location: want.location });
        expect([...folded.values()].sort((a, b) => a.uri.localeCompare(b.uri))).toEqual([...want.invitees].sort((a, b) => a.uri.localeCompare(b.uri)));
      }),
      { numRuns: 25 },
    );
  }, 180_000);

  it('a bus outage: the delivery still counts as stored, the events stay on the outbox (metric), and the sweep publishes each once', async () => {
    const bus = recordingBus();
    const u = 'outage-user';
    bus.setRefusing(true);
    metrics.length = 0;
    const booked = await deliver(bus, u, upd('invitee.created', inviteePayload({ ev: 'OUT1', inv: 'A', updatedAt: at(1), event: { updatedAt: at(1) } })));
    expect(booked.outcome).toBe('applied');
    expect(booked.published).toEqual([]);
    expect(metrics).toEqual([['MeetingEventsUnpublished', 1]]);
    await deliver(bus, u, upd('invitee.created', inviteePayload({ ev: 'OUT1', inv: 'B', updatedAt: at(2), event: { updatedAt: at(1) } })));
    expect((await partition(u)).filter((i) => Array.isArray(i.outbox)).length).toBe(2);

    const clock = { now: () => Date.now() + 120_000 };
    bus.setRefusing(false);
    const swept = await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock }, u);
    expect(swept).toMatchObject({ published: 2, unpublished: 0, items: 2 });
    expect(summary(bus.events)).toEqual([['created', 1], ['invitee_added', 2]]);
    expect(bus.events[1]?.detail.meeting.invitees.map((i) => i.email)).toEqual(['B@example.com']);
    // Nothing left: a second sweep publishes nothing.
    expect(await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock }, u)).toMatchObject({ published: 0, items: 0 });
    expect(bus.events).toHaveLength(2);
  });

  it('a process killed between the write and the publish: the change is stored and the sweep publishes its event', async () => {
    const u = 'killed-user';
    const update = upd('invitee.created', inviteePayload({ ev: 'KILL1', inv: 'A', updatedAt: at(1), event: { updatedAt: at(1), name: 'Intro' } }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/outbox-crash-child.ts'], {
      env: { ...process.env, DYNAMODB_ENDPOINT: db.endpoint, MEETINGS_TABLE: db.tables.meetings, USER_ID: u, UPDATE: JSON.stringify(update) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('publishing')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before publishing: ${out}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(out).toContain('stored applied');

    // The write is there with its event on record, published by nobody.
    const items = await partition(u);
    expect(items.filter((i) => Array.isArray(i.outbox))).toHaveLength(1);
    const bus = recordingBus();
    // Within the grace period the sweep leaves it (its writer may still be publishing) ...
    expect(await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock: { now: () => Date.now() } }, u)).toMatchObject({ items: 0 });
    // ... after it, the health check's sweep publishes it, once.
    const later = { now: () => Date.now() + 120_000 };
    await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock: later }, u);
    await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock: later }, u);
    expect(summary(bus.events)).toEqual([['created', 1]]);
    expect(bus.events[0]?.detail).toMatchObject({ userId: u, eventUri: update.eventUri, meeting: { name: 'Intro', invitees: [] } });
  }, 60_000);

  it('sync pages publish what they change and nothing for what they find unchanged', async () => {
    const bus = recordingBus();
    const u = 'sync-user';
    const page = (status: 'active' | 'canceled') =>
      Array.from({ length: 20 }, (_, k) =>
        upd('invitee.created', inviteePayload({ ev: `SYNC${k}`, inv: 'S1', updatedAt: at(1), event: { updatedAt: at(k === 3 && status === 'canceled' ? 9 : 1), status: k === 3 ? status : 'active' } })),
      );
    const publish = async (updates: MeetingUpdate[]) => {
      const before = bus.events.length;
      const r = await store.applyMany(u, updates);
      await publishWritten({ publisher: bus.publisher, meetings: store, metric: () => {} }, r.written);
      return bus.events.slice(before);
    };
    expect(summary(await publish(page('active')))).toEqual(Array.from({ length: 20 }, () => ['created', 1]));
    expect(await publish(page('active'))).toEqual([]);
    const changed = await publish(page('canceled'));
    expect(changed.map((e) => [e.detail.eventUri.split('/').pop(), e.detail.change, e.detail.version])).toEqual([['SYNC3', 'canceled', 2]]);
  });

  it('a disconnected user\'s purge publishes nothing, even of events left unpublished', async () => {
    const bus = recordingBus();
    const u = 'purged-user';
    bus.setRefusing(true);
    for (let k = 0; k < 5; k++) await deliver(bus, u, upd('invitee.created', inviteePayload({ ev: `PURGE${k}`, inv: 'A', updatedAt: at(1), event: { updatedAt: at(1) } })));
    expect((await partition(u)).filter((i) => Array.isArray(i.outbox))).toHaveLength(5);
    bus.setRefusing(false);
    let cursor: Record<string, unknown> | undefined;
    do {
      const r = await store.purge(u, { limit: 3, beforeBatch: async () => true, ...(cursor ? { cursor } : {}) });
      cursor = r.cursor;
    } while (cursor);
    expect(await partition(u)).toEqual([]);
    expect(await sweepMeetingEvents({ publisher: bus.publisher, meetings: store, metric: () => {}, clock: { now: () => Date.now() + 120_000 } }, u)).toMatchObject({ items: 0 });
    expect(bus.events).toEqual([]);
  });
});
