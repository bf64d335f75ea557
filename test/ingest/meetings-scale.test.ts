import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { toEventRegister, toInviteeRegister, type ApiMeeting } from '../../functions/domain/meeting/index.js';
import { makeMeetingsHandler } from '../../functions/edge/meetings.js';
import { createMeetingStore } from '../../functions/store/meetings/index.js';
import { eventItem, inviteeItem, withInviteeIds, type Item } from '../../functions/store/meetings/item.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { at, countRequests, eventUri, inviteePayload, inviteeUri, meetingsEvent } from './helpers.js';
import { upd } from './scenarios.js';

const BASE = Date.parse('2026-07-01T00:00:00Z');
const HOUR = 3600_000;
const OBS = '2026-06-15T12:00:00.000Z';

/** The items the store itself writes for a meeting (built by its own item module), loaded in bulk. */
function meetingItems(userId: string, id: string, start: number, status: 'active' | 'canceled', invitees: number, pad = 0): Item[] {
  const startTime = new Date(start).toISOString();
  const event = toEventRegister({ uri: eventUri(id), name: `Meeting ${id}`, status, startTime, endTime: new Date(start + HOUR / 2).toISOString(), updatedAt: '2026-06-01T00:00:00Z' });
  const ids = Array.from({ length: invitees }, (_, k) => `I${String(k).padStart(5, '0')}`);
  const inviteeIndex = withInviteeIds([], ids);
  const items = [eventItem(userId, { eventUri: eventUri(id), eventId: id, event, updatedAt: OBS, unplaced: false, inviteeIndex }, 'r', 1)];
  for (let k = 0; k < invitees; k++) {
    const uri = inviteeUri(id, ids[k] as string);
    const invitee = toInviteeRegister({ uri, email: `p${k}@example.com`, name: `Person ${k} ${'x'.repeat(pad)}`, status, cancelUrl: 'https://calendly.com/c', rescheduleUrl: 'https://calendly.com/r', updatedAt: '2026-06-01T00:00:00Z', createdAt: '2026-06-01T00:00:00Z' });
    items.push(inviteeItem(userId, { eventUri: eventUri(id), eventId: id, inviteeUri: uri, invitee, noShow: null, updatedAt: OBS, startTime: event.startTime }, 'r', 1));
  }
  return items;
}

async function load(db: TestDynamo, items: Item[]) {
  const chunks: Item[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as Item[];
        await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.tables.meetings]: chunk.map((Item) => ({ PutRequest: { Item } })) } }));
      }
    }),
  );
}

describe('GET /meetings at scale over dynalite', () => {
  let db: TestDynamo;
  beforeAll(async () => {
    db = await startDynalite();
  });
  afterAll(async () => db.close());

  it('10,000 meetings of which 1% are canceled: a status=canceled page is one index query and one BatchGetItem', async () => {
    const userId = 'many';
    const items: Item[] = [];
    for (let i = 0; i < 10_000; i++) items.push(...meetingItems(userId, `M${String(i).padStart(5, '0')}`, BASE + i * HOUR, i % 100 === 37 ? 'canceled' : 'active', i % 100 === 37 ? 1 : 0));
    await load(db, items);
    const c = db.newClients();
    const counter = countRequests(c.raw);
    const handler = makeMeetingsHandler({ meetings: createMeetingStore(c.doc, db.tables.meetings), connectionStatus: async () => 'connected' });
    const get = async (query: Record<string, string>) => {
      const res = await handler(meetingsEvent(userId, query));
      expect(res.statusCode).toBe(200);
      return JSON.parse(String(res.body)) as { meetings: ApiMeeting[]; nextToken?: string };
    };
    const first = await get({ status: 'canceled', limit: '50' });
    expect(first.meetings).toHaveLength(50);
    expect(first.meetings.every((m) => m.status === 'canceled' && m.invitees.length === 1)).toBe(true);
    // One Query on the status index finds the page's 50 canceled meetings among 10,000 (a key
    // condition: the 9,900 active ones are never read); their invitees, listed by id on each
    // event item, are one BatchGetItem.
    expect(counter.log.map((l) => l.command)).toEqual(['QueryCommand', 'BatchGetItemCommand']);
    counter.reset();
    const second = await get({ nextToken: first.nextToken as string });
    expect(second.meetings).toHaveLength(50);
    expect(counter.total()).toBeLessThanOrEqual(3);
    expect(second.nextToken).toBeUndefined();
    expect(new Set([...first.meetings, ...second.meetings].map((m) => m.eventUri)).size).toBe(100);
  }, 240_000);

  it('the store keeps each event\'s invitee list through concurrent deliveries, and a status page reads a group past the bound by Query', async () => {
    const userId = 'listed';
    const store = createMeetingStore(db.doc, db.tables.meetings);
    const booking = (ev: string, inv: string, status: 'active' | 'canceled' = 'active') =>
      upd(status === 'active' ? 'invitee.created' : 'invitee.canceled', inviteePayload({ ev, inv, status, updatedAt: at(status === 'active' ? 1 : 5), event: { updatedAt: at(status === 'active' ? 1 : 5), status, startTime: '2026-07-02T10:00:00.000000Z' } }));
    // A small group (4 invitees booking at once) and a large one (60, past the bound), both canceled.
    await Promise.all(['A', 'B', 'C', 'D'].map((inv) => store.apply(userId, booking('SMALL1', inv))));
    for (let k = 0; k < 60; k += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => store.apply(userId, booking('LARGE1', `L${k + j}`))));
    await store.apply(userId, booking('SMALL1', 'A', 'canceled'));
    await store.apply(userId, booking('LARGE1', 'L0', 'canceled'));
    const small = (await db.doc.send(new GetCommand({ TableName: db.tables.meetings, Key: { userId, eventId: 'SMALL1' } }))).Item;
    const large = (await db.doc.send(new GetCommand({ TableName: db.tables.meetings, Key: { userId, eventId: 'LARGE1' } }))).Item;
    expect([...new Set(small?.inviteeIds as string[])].sort()).toEqual(['A', 'B', 'C', 'D']);
    expect(large).toMatchObject({ manyInvitees: true });
    expect(large?.inviteeIds).toBeUndefined();

    const c = db.newClients();
    const counter = countRequests(c.raw);
    const handler = makeMeetingsHandler({ meetings: createMeetingStore(c.doc, db.tables.meetings), connectionStatus: async () => 'connected' });
    const res = await handler(meetingsEvent(userId, { status: 'canceled', from: '2026-07-01T00:00:00Z', to: '2026-07-03T00:00:00Z' }));
    const body = JSON.parse(String(res.body)) as { meetings: ApiMeeting[] };
    expect(body.meetings.map((m) => [m.eventUri, m.invitees.length])).toEqual([
      [eventUri('LARGE1'), 60],
      [eventUri('SMALL1'), 4],
    ]);
    expect(counter.log.map((l) => l.command).sort()).toEqual(['BatchGetItemCommand', 'QueryCommand', 'QueryCommand']);
  });

  it('a page stays under the 5 MB budget whatever the invitee counts, and nextToken carries the rest', async () => {
    const userId = 'big-lists';
    const items: Item[] = [];
    // 12 meetings x 1,000 invitees x ~700 bytes: about 8 MB of JSON in one window.
    for (let i = 0; i < 12; i++) items.push(...meetingItems(userId, `B${String(i).padStart(3, '0')}`, BASE + i * HOUR, 'active', 1000, 500));
    await load(db, items);
    const handler = makeMeetingsHandler({ meetings: createMeetingStore(db.doc, db.tables.meetings), connectionStatus: async () => 'connected' });
    const seen: ApiMeeting[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await handler(meetingsEvent(userId, token ? { nextToken: token } : { limit: '100' }));
      expect(res.statusCode).toBe(200);
      const raw = String(res.body);
      expect(Buffer.byteLength(raw)).toBeLessThan(5_000_000);
      const body = JSON.parse(raw) as { meetings: ApiMeeting[]; nextToken?: string };
      expect(body.meetings.length).toBeGreaterThan(0);
      seen.push(...body.meetings);
      token = body.nextToken;
      pages++;
    } while (token);
    expect(pages).toBeGreaterThan(1);
    expect(seen.map((m) => m.eventUri)).toEqual(Array.from({ length: 12 }, (_, i) => eventUri(`B${String(i).padStart(3, '0')}`)));
    for (const m of seen) expect(m.invitees).toHaveLength(1000);
  }, 240_000);
});
