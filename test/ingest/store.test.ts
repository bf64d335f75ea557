import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mergeMeeting, meetingContent, toApiMeeting, type MeetingState, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { createMeetingStore, type ApplyGate } from '../../functions/store/meetings/index.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { countRequests } from './helpers.js';
import { OBS, at, eventUri, inviteePayload, inviteeUri, scenarioArb, upd } from './scenarios.js';


/** What the sync worker builds: event snapshot + invitee snapshot per scheduled event. */
function syncUpdates(prefix: string, n: number, startBase = Date.parse('2026-07-01T00:00:00Z')): MeetingUpdate[] {
  const out: MeetingUpdate[] = [];
  for (let i = 0; i < n; i++) {
    const ev = `${prefix}${String(i).padStart(4, '0')}`;
    const start = new Date(startBase + i * 3600_000).toISOString();
    out.push({
      eventUri: eventUri(ev),
      observedAt: OBS,
      event: { uri: eventUri(ev), name: 'Sync', status: 'active', startTime: start, endTime: start, location: null, createdAt: at(0), updatedAt: at(1) },
    });
    out.push({
      eventUri: eventUri(ev),
      observedAt: OBS,
      invitee: { uri: inviteeUri(ev, 'S1'), email: 's@example.com', name: 'S', status: 'active', rescheduled: false, cancelUrl: 'c', rescheduleUrl: 'r', noShow: null, createdAt: at(0), updatedAt: at(1) },
    });
  }
  return out;
}

describe('meetings store over dynalite', () => {
  let db: TestDynamo;
  beforeAll(async () => {
    db = await startDynalite();
  });
  afterAll(async () => db.close());

  it('applyMany: 100 new events (event + 1 invitee each) cost 2 BatchGetItems + 200 conditional puts; a re-run writes nothing', async () => {
    const c = db.newClients();
    const counter = countRequests(c.raw);
    const store = createMeetingStore(c.doc, db.tables.meetings);
    const updates = syncUpdates('BULK', 100);
    const r1 = await store.applyMany('bulk-user', updates);
    expect(r1).toMatchObject({ applied: 100, unchanged: 0, failed: [], requests: 202 });
    // Each new meeting recorded one `created` event on its event item, version 1.
    expect(r1.written.map((w) => w.events.map((e) => [e.detail.change, e.detail.version]))).toEqual(Array.from({ length: 100 }, () => [['created', 1]]));
    expect(counter.total()).toBe(202);
    const commands = counter.log.map((l) => l.command);
    expect(commands.filter((c) => c === 'BatchGetItemCommand')).toHaveLength(2);
    // A new meeting's `created` rides on its event put; its invitee put records nothing, so both go
    // in one round and no version is reserved.
    expect(commands.filter((c) => c === 'PutItemCommand')).toHaveLength(200);
    // No batch write, no fence: every write is a single-item conditional put.
    expect(commands.filter((c) => c !== 'BatchGetItemCommand' && c !== 'PutItemCommand')).toEqual([]);
    counter.reset();
    const r2 = await store.applyMany('bulk-user', updates);
    expect(r2).toEqual({ applied: 0, unchanged: 100, failed: [], requests: 2, written: [] });
    expect(counter.writes()).toBe(0);
    const got = await store.get('bulk-user', 'BULK0042');
    expect(got && toApiMeeting(got)).toMatchObject({ status: 'active', invitees: [{ uri: inviteeUri('BULK0042', 'S1'), status: 'active' }] });
  });

  it('a first sync page with sync marks: still one put per item (invitees first, then the marked event item carrying `created`)', async () => {
    const c = db.newClients();
    const counter = countRequests(c.raw);
    const store = createMeetingStore(c.doc, db.tables.meetings);
    const updates = syncUpdates('MARK', 20);
    const synced = new Map(updates.map((u) => [u.eventUri.split('/').pop() as string, { updatedAt: '2026-06-01T00:00:00Z', total: 1, active: 1 }]));
    const r = await store.applyMany('marked-user', updates, { synced });
    expect(r).toMatchObject({ applied: 20, failed: [] });
    const commands = counter.log.map((l) => l.command);
    expect(commands.filter((x) => x === 'PutItemCommand')).toHaveLength(40);
    expect(commands.filter((x) => x === 'UpdateItemCommand')).toEqual([]);
    expect(r.written.flatMap((w) => w.events.map((e) => [e.detail.change, e.detail.version]))).toEqual(Array.from({ length: 20 }, () => ['created', 1]));
    // The marks landed (after the invitees) and say what the next sync may skip.
    const { marks } = await store.eventMarks('marked-user', updates.map((u) => u.eventUri));
    expect([...marks.values()].filter((m) => m.synced?.total === 1)).toHaveLength(20);
  });

  /** A gate over the connections table, as the ingest flow builds it; records what it saw. */
  const connectionGate = async (userId: string, status: string | undefined) => {
    if (status !== undefined) await db.doc.send(new PutCommand({ TableName: db.tables.connections, Item: { userId, status, secretish: 'not-for-meetings' } }));
    const seen: Array<Record<string, unknown> | undefined> = [];
    const gate: ApplyGate = {
      reads: [{ tableName: db.tables.connections, key: { userId }, attributes: ['status'] }],
      admit: ([item]) => {
        seen.push(item);
        return item?.status === 'connected';
      },
    };
    return { gate, seen };
  };

  for (const gated of [false, true]) {
  it(`a webhook write landing between a sync's read and its put is not lost: the put loses its condition, re-reads and merges${gated ? ' (gated apply)' : ''}`, async () => {
    const bulkClients = db.newClients();
    const hookClients = db.newClients();
    const ev = gated ? 'RACEG0000' : 'RACE0000';
    const userId = gated ? 'race-user-gated' : 'race-user';
    const g = gated ? await connectionGate(userId, 'connected') : undefined;
    const hookStore = createMeetingStore(hookClients.doc, db.tables.meetings);
    // The webhook news: the invitee canceled (newer than anything the sync has).
    const cancel = upd('invitee.canceled', inviteePayload({ ev, inv: 'S1', status: 'canceled', updatedAt: at(50), event: { status: 'canceled', updatedAt: at(50), startTime: '2026-07-01T00:00:00.000000Z' } }));
    let hookDone: 'applied' | 'unchanged' | 'refused' | undefined;
    let hookRun: Promise<unknown> | undefined;
    const counter = countRequests(bulkClients.raw);
    // The sync's client runs the whole webhook apply just before its first put reaches the table.
    const racing = {
      send: async (cmd: unknown) => {
        if (cmd instanceof PutCommand) {
          hookRun ??= (g ? hookStore.apply(userId, cancel, g.gate) : hookStore.apply(userId, cancel)).then((o) => void (hookDone = o.outcome));
          await hookRun;
        }
        return bulkClients.doc.send(cmd as PutCommand);
      },
    } as unknown as typeof bulkClients.doc;
    const bulkStore = createMeetingStore(racing, db.tables.meetings);
    const r = await bulkStore.applyMany(userId, syncUpdates(gated ? 'RACEG' : 'RACE', 1));
    expect(hookDone).toBe('applied');
    // The sync's news was older on both items: its lost puts re-read, and nothing is left to write.
    expect(r).toMatchObject({ failed: [] });
    expect(counter.log.filter((l) => l.command === 'BatchGetItemCommand')).toHaveLength(2);
    const view = toApiMeeting((await bulkStore.get(userId, ev)) as MeetingState);
    expect(view.status).toBe('canceled');
    expect(view.invitees[0]?.status).toBe('canceled');
    if (g) expect(g.seen).toEqual([{ userId, status: 'connected' }]);
  });
  }

  it('a gated apply reads the meeting items + the gate item in ONE BatchGetItem (projected), then writes event and invitee items in one round', async () => {
    const c = db.newClients();
    const counter = countRequests(c.raw);
    const store = createMeetingStore(c.doc, db.tables.meetings);
    const { gate, seen } = await connectionGate('gate-user', 'connected');
    const u = upd('invitee.created', inviteePayload({ ev: 'GATE0001', inv: 'A', updatedAt: at(1), event: { updatedAt: at(1) } }));
    expect((await store.apply('gate-user', u, gate)).outcome).toBe('applied');
    expect(counter.log.map((l) => l.command)).toEqual(['BatchGetItemCommand', 'PutItemCommand', 'PutItemCommand']);
    // Only the projected attribute (and the key) crosses into the meetings store.
    expect(seen).toEqual([{ userId: 'gate-user', status: 'connected' }]);
    counter.reset();
    expect((await store.apply('gate-user', u, gate)).outcome).toBe('unchanged');
    expect(counter.log.map((l) => l.command)).toEqual(['BatchGetItemCommand']);
    // A second invitee of the same event (same event snapshot): its own item, after reserving the
    // version of its invitee_added event on the event item (an atomic ADD, so invitees booking at
    // once never conflict on it).
    counter.reset();
    const b = upd('invitee.created', inviteePayload({ ev: 'GATE0001', inv: 'B', updatedAt: at(2), event: { updatedAt: at(1) } }));
    const rb = await store.apply('gate-user', b, gate);
    expect(rb.outcome).toBe('applied');
    expect(counter.log.map((l) => l.command)).toEqual(['BatchGetItemCommand', 'UpdateItemCommand', 'PutItemCommand']);
    expect(rb.written.flatMap((w) => w.events.map((e) => [e.detail.change, e.detail.version]))).toEqual([['invitee_added', 2]]);
  });

  it('a refusing gate writes nothing, for a new, a changed and a duplicate delivery alike', async () => {
    const c = db.newClients();
    const counter = countRequests(c.raw);
    const store = createMeetingStore(c.doc, db.tables.meetings);
    const created = upd('invitee.created', inviteePayload({ ev: 'GATE0002', inv: 'A', updatedAt: at(1), event: { updatedAt: at(1) } }));
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'GATE0002', inv: 'A', status: 'canceled', updatedAt: at(2), event: { status: 'canceled', updatedAt: at(2) } }));
    expect((await store.apply('gate-off', created)).outcome).toBe('applied');
    const before = await store.get('gate-off', 'GATE0002');
    const off = await connectionGate('gate-off', 'disconnected');
    const none = await connectionGate('gate-none', undefined);
    counter.reset();
    expect((await store.apply('gate-off', created, off.gate)).outcome).toBe('refused');
    expect((await store.apply('gate-off', canceled, off.gate)).outcome).toBe('refused');
    expect((await store.apply('gate-none', created, none.gate)).outcome).toBe('refused');
    expect(counter.writes()).toBe(0);
    expect(counter.total()).toBe(3);
    expect(none.seen).toEqual([undefined]);
    expect(await store.get('gate-off', 'GATE0002')).toEqual(before);
    expect(await store.get('gate-none', 'GATE0002')).toBeUndefined();
  });

  it('concurrent gated applies all land: a rev conflict re-reads (and re-asks the gate) and merges', async () => {
    const stores = Array.from({ length: 4 }, () => createMeetingStore(db.newClients().doc, db.tables.meetings));
    const { gate, seen } = await connectionGate('conc-gated', 'connected');
    const ev = 'CONCG001';
    const updates = ['A', 'B', 'C', 'D'].map((inv, i) => upd('invitee.created', inviteePayload({ ev, inv, updatedAt: at(i), event: { updatedAt: at(0) } })));
    const results = await Promise.all(updates.map((u, i) => (stores[i] as ReturnType<typeof createMeetingStore>).apply('conc-gated', u, gate)));
    expect(results.every((r) => r.outcome === 'applied')).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    const s = await stores[0]?.get('conc-gated', ev);
    expect(Object.keys(s?.invitees ?? {})).toHaveLength(4);
  });

  it('concurrent applies (no bulk) all land: rev conflicts re-read and merge', async () => {
    const stores = Array.from({ length: 6 }, () => createMeetingStore(db.newClients().doc, db.tables.meetings));
    const ev = 'CONC0001';
    const updates = ['A', 'B', 'C', 'D', 'E', 'F'].map((inv, i) => upd('invitee.created', inviteePayload({ ev, inv, updatedAt: at(i), event: { updatedAt: at(0) } })));
    const results = await Promise.all(updates.map((u, i) => (stores[i] as ReturnType<typeof createMeetingStore>).apply('conc-user', u)));
    expect(results.every((r) => r.outcome === 'applied')).toBe(true);
    const s = await stores[0]?.get('conc-user', ev);
    expect(Object.keys(s?.invitees ?? {})).toHaveLength(6);
  });

  it('through dynalite: shuffled, duplicated and concurrent deliveries end in the in-order state (30 runs)', async () => {
    const store = createMeetingStore(db.doc, db.tables.meetings);
    const other = createMeetingStore(db.newClients().doc, db.tables.meetings);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ seq, shuffled }) => {
        run++;
        const expected = seq.reduce<MeetingState | undefined>((s, u) => mergeMeeting(s, u), undefined) as MeetingState;
        const seqUser = `prop-seq-${run}`;
        for (const u of shuffled) await store.apply(seqUser, u);
        const parUser = `prop-par-${run}`;
        await Promise.all(shuffled.map((u, i) => (i % 2 ? other : store).apply(parUser, u)));
        const bulkUser = `prop-bulk-${run}`;
        await Promise.all([store.applyMany(bulkUser, shuffled.slice(0, Math.ceil(shuffled.length / 2))), ...shuffled.slice(Math.ceil(shuffled.length / 2)).map((u) => other.apply(bulkUser, u))]);
        for (const user of [seqUser, parUser, bulkUser]) {
          const got = await store.get(user, 'E1');
          expect(meetingContent(got as MeetingState)).toBe(meetingContent(expected));
        }
      }),
      { numRuns: 30 },
    );
  }, 180_000);
});
