import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiMeeting } from '../../functions/domain/meeting/index.js';
import { makeMeetingsHandler } from '../../functions/edge/meetings.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import type { MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { eventUri, inviteeUri, meetingsEvent } from './helpers.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const BASE = Date.parse('2026-07-01T00:00:00Z');
const HOUR = 3600_000;
const N = 300;

describe('GET /meetings over dynalite', () => {
  let db: TestDynamo;
  let store: MeetingStore;
  let handler: ReturnType<typeof makeMeetingsHandler>;
  /** eventId → start, status (what we stored) */
  const stored: Array<{ id: string; start: number; status: 'active' | 'canceled' }> = [];

  beforeAll(async () => {
    db = await startDynalite();
    store = createMeetingStore(db.doc, db.tables.meetings);
    // The list alone: the user counts as connected (the status gate is tested in test/sync/purge.test.ts).
    handler = makeMeetingsHandler({ meetings: store, connectionStatus: async () => 'connected' });
    const updates: MeetingUpdate[] = [];
    for (let i = 0; i < N; i++) {
      // Several meetings share a start time (ties are ordered by event id), every 7th is canceled.
      const id = `EV${String((i * 7919) % 10007).padStart(5, '0')}`;
      const start = BASE + Math.floor(i / 3) * HOUR;
      const status = i % 7 === 0 ? 'canceled' : 'active';
      stored.push({ id, start, status });
      const iso = new Date(start).toISOString();
      updates.push({
        eventUri: eventUri(id),
        observedAt: new Date(NOW).toISOString(),
        event: { uri: eventUri(id), name: `M${i}`, status, startTime: iso, endTime: new Date(start + HOUR / 2).toISOString(), location: { type: 'zoom', joinUrl: 'https://zoom.example/j' }, updatedAt: '2026-06-01T00:00:00Z' },
        invitee: { uri: inviteeUri(id, 'I1'), email: 'a@example.com', name: 'A', status, rescheduled: false, cancelUrl: 'c', rescheduleUrl: 'r', updatedAt: '2026-06-01T00:00:00Z' },
      });
    }
    // Another user's meetings in the same window must never show up.
    await store.applyMany('lister', updates);
    await store.applyMany('someone-else', updates.slice(0, 20));
  });
  afterAll(async () => db.close());

  const get = async (userId: string | undefined, query: Record<string, string>) => {
    const res = await handler(meetingsEvent(userId, query));
    return { status: res.statusCode ?? 0, body: JSON.parse(String(res.body)) as { meetings: ApiMeeting[]; nextToken?: string; error?: string; message?: string } };
  };

  async function pageAll(query: Record<string, string>) {
    const seen: ApiMeeting[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await get('lister', token ? { ...query, nextToken: token } : query);
      expect(res.status).toBe(200);
      seen.push(...res.body.meetings);
      token = res.body.nextToken;
      pages++;
      expect(pages).toBeLessThan(100);
    } while (token);
    return { seen, pages };
  }

  const expectedIds = (from: number, to: number, status?: string) =>
    stored
      .filter((m) => m.start >= from && m.start < to && (!status || m.status === status))
      .sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1))
      .map((m) => m.id);
  const idOf = (m: ApiMeeting) => m.eventUri.split('/').pop();

  it('pages over all 300 meetings in start order, no gaps or duplicates', async () => {
    const from = new Date(BASE).toISOString();
    const to = new Date(BASE + 1000 * HOUR).toISOString();
    const { seen, pages } = await pageAll({ from, to, limit: '40' });
    expect(seen.map(idOf)).toEqual(expectedIds(BASE, BASE + 1000 * HOUR));
    expect(seen).toHaveLength(N);
    expect(pages).toBe(Math.ceil(N / 40));
    expect(seen[0]).toMatchObject({ source: 'calendly', status: expect.any(String), location: { type: 'zoom', joinUrl: 'https://zoom.example/j' } });
  });

  it('default limit is 50, and the last page has no nextToken', async () => {
    const first = await get('lister', { from: new Date(BASE).toISOString(), to: new Date(BASE + 1000 * HOUR).toISOString() });
    expect(first.status).toBe(200);
    expect(first.body.meetings).toHaveLength(50);
    const { seen, pages } = await pageAll({ from: new Date(BASE).toISOString(), to: new Date(BASE + 1000 * HOUR).toISOString() });
    expect(seen).toHaveLength(N);
    expect(pages).toBe(6);
  });

  it('the window is [from, to): a meeting starting exactly at `from` is in, one exactly at `to` is out', async () => {
    const from = BASE + 10 * HOUR;
    const to = BASE + 20 * HOUR;
    const { seen } = await pageAll({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), limit: '7' });
    expect(seen.map(idOf)).toEqual(expectedIds(from, to));
    expect(seen).toHaveLength(30);
    expect(seen[0]?.startTime).toBe(new Date(from).toISOString());
    expect(seen.every((m) => Date.parse(m.startTime as string) < to)).toBe(true);
    // offsets are the same instants
    const same = await pageAll({ from: '2026-07-01T12:00:00+02:00', to: '2026-07-01T22:00:00+02:00', limit: '100' });
    expect(same.seen.map(idOf)).toEqual(expectedIds(from, to));
  });

  it('filters by status across pages', async () => {
    const from = new Date(BASE).toISOString();
    const to = new Date(BASE + 1000 * HOUR).toISOString();
    const canceled = await pageAll({ from, to, status: 'canceled', limit: '9' });
    expect(canceled.seen.map(idOf)).toEqual(expectedIds(BASE, BASE + 1000 * HOUR, 'canceled'));
    expect(canceled.seen.every((m) => m.status === 'canceled')).toBe(true);
    const active = await pageAll({ from, to, status: 'active', limit: '100' });
    expect(active.seen).toHaveLength(N - canceled.seen.length);
  });

  it('a missing from or to leaves the window open on that side', async () => {
    const all = await pageAll({ limit: '100' });
    expect(all.seen).toHaveLength(N);
    const mid = BASE + 50 * HOUR;
    const before = await pageAll({ to: new Date(mid).toISOString(), limit: '100' });
    const after = await pageAll({ from: new Date(mid).toISOString(), limit: '100' });
    expect(before.seen.length).toBeGreaterThan(0);
    expect(after.seen.length).toBeGreaterThan(0);
    expect(before.seen.length + after.seen.length).toBe(N);
    expect(before.seen.map((m) => m.eventUri)).toEqual(all.seen.slice(0, before.seen.length).map((m) => m.eventUri));
  });

  it('nextToken alone continues its query; repeated parameters must agree', async () => {
    const q = { from: new Date(BASE).toISOString(), to: new Date(BASE + 50 * HOUR).toISOString(), status: 'active', limit: '10' };
    const first = await get('lister', q);
    const token = first.body.nextToken as string;
    const alone = await get('lister', { nextToken: token, limit: '10' });
    const withParams = await get('lister', { ...q, nextToken: token });
    expect(alone.body).toEqual(withParams.body);
    expect(String(alone.body.meetings[0]?.startTime) >= String(first.body.meetings[9]?.startTime)).toBe(true);
    const other = await get('lister', { ...q, status: 'canceled', nextToken: token });
    expect(other).toMatchObject({ status: 400, body: { error: 'invalid_next_token' } });
  });

  it('refuses tampered tokens and tokens of another user with 400', async () => {
    const q = { from: new Date(BASE).toISOString(), to: new Date(BASE + 1000 * HOUR).toISOString(), limit: '5' };
    const token = (await get('lister', q)).body.nextToken as string;
    const [body, check] = token.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...decoded, sk: '2030-01-01T00:00:00.000Z#EVX' })).toString('base64url');
    for (const bad of [`${forged}.${check}`, `${body}.AAAAAAAAAAAAAAAA`, 'garbage', `${body}`, `${token}.x`, 'a'.repeat(3000)]) {
      const res = await get('lister', { nextToken: bad });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_next_token');
    }
    const stolen = await get('someone-else', { nextToken: token });
    expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_next_token' } });
  });

  it('rejects bad query parameters with 400 {error, message}', async () => {
    const bad: Array<Record<string, string>> = [
      { from: 'yesterday' },
      { from: '2026-07-01T00:00:00' }, // no zone
      { to: '2026-13-01' },
      { from: '2026-07-02T00:00:00Z', to: '2026-07-01T00:00:00Z' },
      { from: '2026-07-01T00:00:00Z', to: '2026-07-01T00:00:00Z' },
      { status: 'deleted' },
      { limit: '0' },
      { limit: '101' },
      { limit: 'ten' },
      { sort: 'desc' },
    ];
    for (const q of bad) {
      const res = await get('lister', q);
      expect(res.status, JSON.stringify(q)).toBe(400);
      expect(res.body.error).toBe('invalid_query');
      expect(typeof res.body.message).toBe('string');
    }
    // A person reading the message learns what a valid time looks like.
    const res = await get('lister', { from: 'yesterday', to: '2026-07-02T00:00:00Z' });
    expect(res.body.message).toMatch(/^from: must be an ISO-8601 date-time/);
  });

  it('requires a caller', async () => {
    const res = await get(undefined, {});
    expect(res.status).toBe(401);
  });

  it('never shows another user\'s meetings', async () => {
    const res = await pageAll({ from: new Date(BASE).toISOString(), to: new Date(BASE + 1000 * HOUR).toISOString(), limit: '100' });
    expect(res.seen).toHaveLength(N);
    const other = await get('someone-else', { from: new Date(BASE).toISOString(), to: new Date(BASE + 1000 * HOUR).toISOString(), limit: '100' });
    expect(other.body.meetings).toHaveLength(20);
  });
});
