import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createSecretBox, parseEncryptionKey, randomToken } from '../../functions/shared/crypto.js';
import { logSinks } from '../../functions/shared/logger.js';
import { createAppKeySource } from '../../functions/shared/webhook-signature.js';
import { cacheHookKeys, replayParked, type IngestDeps } from '../../functions/flows/ingest.js';
import { createConnectionStatusReader } from '../../functions/store/connection-status.js';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import { createParkedWebhookStore, parkedIdOf } from '../../functions/store/parked-webhooks.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import type { AppSecrets, SecretsSource } from '../../functions/ports.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { at, countRequests, envelope, eventUri, inviteePayload, inviteeUri, sign, webhookEvent } from './helpers.js';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const T = Math.floor(NOW / 1000);
const APP_KEY = 'app-key-' + 'a'.repeat(40);
const box = createSecretBox(parseEncryptionKey(Buffer.alloc(32, 9).toString('base64')));

/** Secrets Manager is mocked (allowed by the brief): a source whose key can be rotated. */
function rotatingSecrets(initial: string) {
  let stored = initial;
  let cached = initial;
  const calls = { refresh: 0 };
  const make = (): AppSecrets => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: cached, tokenEncryptionKey: 'k' });
  const source: SecretsSource = {
    get: async () => make(),
    refresh: async () => {
      calls.refresh++;
      cached = stored;
      return make();
    },
  };
  return { source, calls, rotate: (k: string) => void (stored = k) };
}

describe('POST /webhooks/calendly/{hookKey} over dynalite', () => {
  let db: TestDynamo;
  let counter: ReturnType<typeof countRequests>;
  let meetings: MeetingStore;
  let deps: IngestDeps;
  let handler: ReturnType<typeof makeWebhookHandler>;
  let secrets: ReturnType<typeof rotatingSecrets>;
  const metrics: Array<{ name: string; value: number; dimensions?: Record<string, string> }> = [];
  const logs: Array<Record<string, unknown>> = [];
  let clockNow = NOW;

  // Users and hooks
  const hooks = { ok: randomToken(), retired: randomToken(), disc: randomToken(), noconn: randomToken(), authreq: randomToken() };
  const hookKeyFor: Record<string, string> = {};

  async function items(table: string): Promise<Record<string, unknown>[]> {
    const res = await db.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
    return res.Items ?? [];
  }

  beforeAll(async () => {
    db = await startDynalite();
    const clients = db.newClients();
    counter = countRequests(clients.raw);
    const keyStore = createWebhookKeyStore(db.doc, db.tables.webhookKeys, box);
    const setup: Array<[keyof typeof hooks, string, string | undefined, 'active' | 'retired']> = [
      ['ok', 'user-ok', 'connected', 'active'],
      ['retired', 'user-ret', 'connected', 'retired'],
      ['disc', 'user-disc', 'disconnected', 'active'],
      ['noconn', 'user-none', undefined, 'active'],
      ['authreq', 'user-auth', 'authorization_required', 'active'],
    ];
    for (const [name, userId, status, state] of setup) {
      const signingKey = `hook-key-${name}-${randomToken(8)}`;
      hookKeyFor[name] = signingKey;
      await keyStore.create({ hookKey: hooks[name], userId, signingKey, now: NOW });
      await keyStore.setState(hooks[name], state, NOW);
      // The connections item is owned elsewhere; a minimal one with `status` is all ingest reads.
      if (status) await db.doc.send(new PutCommand({ TableName: db.tables.connections, Item: { userId, status } }));
    }
    secrets = rotatingSecrets(APP_KEY);
    meetings = createMeetingStore(clients.doc, db.tables.meetings);
    deps = {
      hookKeys: cacheHookKeys(createWebhookKeyStore(clients.doc, db.tables.webhookKeys, box)),
      connectionStatus: createConnectionStatusReader(clients.doc, db.tables.connections),
      appKey: createAppKeySource(secrets.source, { now: () => clockNow }),
      meetings,
      parked: createParkedWebhookStore(clients.doc, db.tables.parkedWebhooks),
      clock: { now: () => clockNow },
      toleranceSeconds: 90_000,
      metric: (name, value, dimensions) => void metrics.push({ name, value, ...(dimensions ? { dimensions } : {}) }),
    };
    handler = makeWebhookHandler(deps);
    logSinks.push((l) => void logs.push(l));
  });
  afterAll(async () => {
    logSinks.splice(0);
    await db.close();
  });
  beforeEach(() => {
    counter.reset();
    clockNow = NOW;
  });

  const post = async (hook: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await handler(webhookEvent(hook, body, headers));
    return { status: res.statusCode ?? 0, body: JSON.parse(String(res.body)) as Record<string, unknown> };
  };
  const deliver = (body: string, key = APP_KEY, hook = hooks.ok, t = T) => post(hook, body, { 'calendly-webhook-signature': sign(key, t, body) });
  const created = (ev: string, inv: string, minute: number, extra: Partial<Parameters<typeof inviteePayload>[0]> = {}) =>
    envelope('invitee.created', inviteePayload({ ev, inv, updatedAt: at(minute), event: { updatedAt: at(minute) }, ...extra }));
  const canceled = (ev: string, inv: string, minute: number, extra: Partial<Parameters<typeof inviteePayload>[0]> = {}) =>
    envelope('invitee.canceled', inviteePayload({ ev, inv, status: 'canceled', updatedAt: at(minute), event: { status: 'canceled', updatedAt: at(minute) }, ...extra }));
  const view = async (userId: string, ev: string) => {
    const s = await meetings.get(userId, ev);
    if (!s) return undefined;
    const { toApiMeeting } = await import('../../functions/domain/meeting/index.js');
    return toApiMeeting(s);
  };

  describe('applying deliveries', () => {
    it('stores a new booking (event + invitee item, one round of writes) and answers duplicate for the same delivery (one read)', async () => {
      // Cold: the hook key is read once; from then on this container knows its owner and key.
      expect((await deliver(created('EVWARM', 'I1', 1))).status).toBe(200);
      expect(counter.log.map((l) => l.command)).toEqual(['GetItemCommand', 'BatchGetItemCommand', 'PutItemCommand', 'PutItemCommand']);
      counter.reset();
      const body = created('EVNEW1', 'I1', 1);
      expect(await deliver(body)).toEqual({ status: 200, body: { status: 'applied' } });
      expect(counter.writes(db.tables.meetings)).toBe(2);
      expect(counter.writes()).toBe(2);
      // Two round trips: meeting items + connection status + hook key state in one read, then the
      // two conditional puts side by side.
      expect(counter.log.map((l) => l.command)).toEqual(['BatchGetItemCommand', 'PutItemCommand', 'PutItemCommand']);
      counter.reset();
      expect(await deliver(body)).toEqual({ status: 200, body: { status: 'duplicate' } });
      expect(counter.writes()).toBe(0);
      expect(counter.log.map((l) => l.command)).toEqual(['BatchGetItemCommand']);
      const m = await view('user-ok', 'EVNEW1');
      expect(m).toMatchObject({
        source: 'calendly',
        eventUri: eventUri('EVNEW1'),
        name: '30 Minute Meeting',
        status: 'active',
        startTime: '2026-06-01T15:00:00.000Z',
        endTime: '2026-06-01T15:30:00.000Z',
        location: { type: 'google_conference', joinUrl: 'https://meet.example.com/EVNEW1' },
        invitees: [
          {
            uri: inviteeUri('EVNEW1', 'I1'),
            email: 'I1@example.com',
            name: 'Person I1',
            status: 'active',
            noShow: false,
            rescheduled: false,
            cancelUrl: 'https://calendly.com/cancellations/I1',
            rescheduleUrl: 'https://calendly.com/reschedulings/I1',
          },
        ],
        calendlyUpdatedAt: at(1),
        updatedAt: new Date(NOW).toISOString(),
      });
      expect(m?.cancellation).toBeUndefined();
    });

    it('writes only the items a delivery moves: a cancel moves event and invitee (2), another booking of the same event only its invitee (1, after its version reservation)', async () => {
      await deliver(created('EVCHG', 'I1', 1));
      counter.reset();
      expect((await deliver(canceled('EVCHG', 'I1', 2))).body).toEqual({ status: 'applied' });
      expect(counter.writes()).toBe(2);
      expect(counter.writes(db.tables.meetings)).toBe(2);
      counter.reset();
      expect((await deliver(created('EVCHG', 'I2', 1, { event: { updatedAt: at(1) } }))).body).toEqual({ status: 'applied' });
      expect(counter.log.filter((l) => l.command === 'PutItemCommand')).toHaveLength(1);
      // The event item is touched only by the ADD that reserves the invitee_added event's version.
      expect(counter.log.filter((l) => l.command === 'UpdateItemCommand')).toHaveLength(1);
    });

    it('cancel before create: ends canceled, the late create is a duplicate', async () => {
      expect((await deliver(canceled('EVCBC', 'I1', 5))).body).toEqual({ status: 'applied' });
      counter.reset();
      expect((await deliver(created('EVCBC', 'I1', 1))).body).toEqual({ status: 'duplicate' });
      expect(counter.writes()).toBe(0);
      const m = await view('user-ok', 'EVCBC');
      expect(m?.status).toBe('canceled');
      expect(m?.invitees[0]?.status).toBe('canceled');
      expect(m?.cancellation).toEqual({ canceledBy: 'Host', reason: 'sick', cancelerType: 'host' });
    });

    it('a stale create after the cancel changes nothing', async () => {
      await deliver(created('EVSTALE', 'I1', 1));
      await deliver(canceled('EVSTALE', 'I1', 5));
      counter.reset();
      expect((await deliver(created('EVSTALE', 'I1', 1))).body).toEqual({ status: 'duplicate' });
      expect(counter.writes()).toBe(0);
      expect((await view('user-ok', 'EVSTALE'))?.status).toBe('canceled');
    });

    it('reschedule in either order: old meeting canceled with rescheduled:true, new one active', async () => {
      for (const [old, neu, order] of [['EVOLD1', 'EVNEWR1', 'cancel-first'], ['EVOLD2', 'EVNEWR2', 'create-first']] as const) {
        await deliver(created(old, 'I1', 1));
        const cancelOld = canceled(old, 'I1', 10, { rescheduled: true, newInvitee: inviteeUri(neu, 'I2') });
        const createNew = created(neu, 'I2', 10, { oldInvitee: inviteeUri(old, 'I1'), event: { updatedAt: at(10), startTime: '2026-06-02T09:00:00.000000Z' } });
        const seq = order === 'cancel-first' ? [cancelOld, createNew] : [createNew, cancelOld];
        for (const b of seq) expect((await deliver(b)).body).toEqual({ status: 'applied' });
        const o = await view('user-ok', old);
        const n = await view('user-ok', neu);
        expect(o?.status).toBe('canceled');
        expect(o?.invitees).toMatchObject([{ uri: inviteeUri(old, 'I1'), status: 'canceled', rescheduled: true }]);
        expect(n?.status).toBe('active');
        expect(n?.startTime).toBe('2026-06-02T09:00:00.000Z');
        expect(n?.invitees).toMatchObject([{ uri: inviteeUri(neu, 'I2'), status: 'active', rescheduled: false }]);
      }
    });

    it('a group event keeps all three invitees; one cancels, the meeting stays active', async () => {
      for (const [i, inv] of ['G1', 'G2', 'G3'].entries()) {
        expect((await deliver(created('EVGROUP', inv, 1 + i, { createdAt: at(i), event: { updatedAt: at(0) } }))).body).toEqual({ status: 'applied' });
      }
      // The invitee cancels; the group event itself is unchanged (still active).
      expect((await deliver(canceled('EVGROUP', 'G2', 9, { createdAt: at(1), event: { status: 'active', updatedAt: at(0) } }))).body).toEqual({ status: 'applied' });
      const m = await view('user-ok', 'EVGROUP');
      expect(m?.status).toBe('active');
      expect(m?.invitees.map((i) => [i.uri.split('/').pop(), i.status])).toEqual([
        ['G1', 'active'],
        ['G2', 'canceled'],
        ['G3', 'active'],
      ]);
    });

    it('no-show set, cleared, and a replayed set does not bring it back', async () => {
      const base = { ev: 'EVNS', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } };
      await deliver(envelope('invitee.created', inviteePayload(base)));
      const set = envelope('invitee_no_show.created', inviteePayload({ ...base, noShow: { uri: `${'https://api.calendly.com'}/invitee_no_shows/N1`, created_at: at(60) } }), at(60));
      const clear = envelope('invitee_no_show.deleted', inviteePayload(base), at(70));
      expect((await deliver(set)).body).toEqual({ status: 'applied' });
      expect((await view('user-ok', 'EVNS'))?.invitees[0]?.noShow).toBe(true);
      expect((await deliver(clear)).body).toEqual({ status: 'applied' });
      expect((await view('user-ok', 'EVNS'))?.invitees[0]?.noShow).toBe(false);
      counter.reset();
      expect((await deliver(set)).body).toEqual({ status: 'duplicate' });
      expect(counter.writes()).toBe(0);
      expect((await view('user-ok', 'EVNS'))?.invitees[0]?.noShow).toBe(false);
    });

    it('an older payload without scheduled_event is stored but not listed until the event snapshot arrives', async () => {
      const old = envelope('invitee.created', inviteePayload({ ev: 'EVOLDSHAPE', inv: 'I1', updatedAt: at(1) }));
      expect((await deliver(old)).body).toEqual({ status: 'applied' });
      const window = { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', limit: 100 };
      const listed = async () => (await meetings.list('user-ok', window)).meetings.some((m) => m.eventUri === eventUri('EVOLDSHAPE'));
      expect((await view('user-ok', 'EVOLDSHAPE'))?.startTime).toBeNull();
      expect(await listed()).toBe(false);
      expect((await deliver(created('EVOLDSHAPE', 'I1', 1))).body).toEqual({ status: 'applied' });
      expect(await listed()).toBe(true);
    });

    it('accepts the per-hook key, several v1 values, and an authorization_required connection; logs the key label only', async () => {
      logs.splice(0);
      const body = created('EVHOOKKEY', 'I1', 1);
      const hookSig = sign(hookKeyFor.ok as string, T, body);
      const wrong = sign('nope', T, body).split(',')[1];
      expect((await post(hooks.ok, body, { 'Calendly-Webhook-Signature': `${hookSig.split(',')[0]},${wrong},${hookSig.split(',')[1]}` })).body).toEqual({ status: 'applied' });
      expect(logs.some((l) => l.message === 'webhook applied' && l.matchedKey === 'hook')).toBe(true);
      expect(JSON.stringify(logs)).not.toContain(hookKeyFor.ok as string);
      expect(JSON.stringify(logs)).not.toContain(APP_KEY);
      expect((await deliver(created('EVAUTHREQ', 'I1', 1), APP_KEY, hooks.authreq)).body).toEqual({ status: 'applied' });
    });

    it('counts which key matched: the hook\'s own key first, the app key as the fallback', async () => {
      metrics.splice(0);
      expect((await deliver(created('EVKEYHOOK', 'I1', 1), hookKeyFor.ok as string)).body).toEqual({ status: 'applied' });
      expect((await deliver(created('EVKEYAPP', 'I1', 1), APP_KEY)).body).toEqual({ status: 'applied' });
      // Signed with both keys (two v1 values): counted once, as the hook's key.
      const body = created('EVKEYBOTH', 'I1', 1);
      const both = `${sign(APP_KEY, T, body)},${sign(hookKeyFor.ok as string, T, body).split(',')[1]}`;
      expect((await post(hooks.ok, body, { 'Calendly-Webhook-Signature': both })).body).toEqual({ status: 'applied' });
      expect(metrics.filter((m) => m.name === 'WebhookSignatureKey').map((m) => m.dimensions?.key)).toEqual(['hook', 'app', 'hook']);
      // A refused signature counts nothing.
      expect((await deliver(created('EVKEYBAD', 'I1', 1), 'not-a-key-of-ours')).status).toBe(401);
      expect(metrics.filter((m) => m.name === 'WebhookSignatureKey')).toHaveLength(3);
    });

    it('a retry signed with its first attempt\'s t (24 h old) is applied; replaying an older state changes nothing', async () => {
      const first = created('EVRETRY', 'I1', 5);
      expect((await deliver(first, APP_KEY, hooks.ok, T - 24 * 3600)).body).toEqual({ status: 'applied' });
      // An older update delivered late (its t even older) is answered and written over nothing.
      counter.reset();
      expect((await deliver(created('EVRETRY', 'I1', 1), APP_KEY, hooks.ok, T - 25 * 3600)).body).toEqual({ status: 'duplicate' });
      expect(counter.writes()).toBe(0);
      expect((await deliver(canceled('EVRETRY', 'I1', 6), APP_KEY, hooks.ok, T + 300)).body).toEqual({ status: 'applied' });
      expect((await view('user-ok', 'EVRETRY'))?.status).toBe('canceled');
    });

    it('a disconnect is seen by the very next delivery: duplicate and changed alike get 410 and write nothing', async () => {
      const body = created('EVDISC', 'I1', 1);
      expect((await deliver(body)).body).toEqual({ status: 'applied' });
      const setStatus = (status: string) => db.doc.send(new PutCommand({ TableName: db.tables.connections, Item: { userId: 'user-ok', status } }));
      await setStatus('disconnected');
      try {
        counter.reset();
        expect((await deliver(body)).status).toBe(410);
        expect((await deliver(canceled('EVDISC', 'I1', 2))).status).toBe(410);
        expect(counter.writes()).toBe(0);
      } finally {
        await setStatus('connected');
      }
      expect((await deliver(body)).body).toEqual({ status: 'duplicate' });
      expect((await view('user-ok', 'EVDISC'))?.status).toBe('active');
    });

    it('answers ignored for other event names and writes nothing', async () => {
      const body = envelope('routing_form_submission.created', { uri: 'x' });
      expect(await deliver(body)).toEqual({ status: 200, body: { status: 'ignored' } });
      expect(counter.writes()).toBe(0);
    });
  });

  describe('bad input writes nothing', () => {
    const good = () => created('EVBAD', 'I1', 1);
    const cases: Array<[string, () => Promise<{ status: number; body: Record<string, unknown> }>, number, string]> = [
      ['forged signature', async () => post(hooks.ok, good(), { 'calendly-webhook-signature': `t=${T},v1=${'0'.repeat(64)}` }), 401, 'bad_signature'],
      ['missing signature', async () => post(hooks.ok, good()), 401, 'missing_signature'],
      ['stale signature', async () => deliver(good(), APP_KEY, hooks.ok, T - 90_001), 401, 'stale_signature'],
      ['future signature (over 5 minutes ahead)', async () => deliver(good(), APP_KEY, hooks.ok, T + 301), 401, 'stale_signature'],
      ['wrong key', async () => deliver(good(), 'some-other-key'), 401, 'bad_signature'],
      ['signature for another body', async () => post(hooks.ok, good(), { 'calendly-webhook-signature': sign(APP_KEY, T, created('EVBAD', 'I1', 2)) }), 401, 'bad_signature'],
      ['truncated header', async () => post(hooks.ok, good(), { 'calendly-webhook-signature': sign(APP_KEY, T, good()).slice(0, 30) }), 401, 'malformed_signature'],
      ['header without v1', async () => post(hooks.ok, good(), { 'calendly-webhook-signature': `t=${T}` }), 401, 'malformed_signature'],
      ['unsigned non-JSON', async () => post(hooks.ok, 'not json', { 'calendly-webhook-signature': `t=${T},v1=${'1'.repeat(64)}` }), 401, 'bad_signature'],
      ['oversized (before any check)', async () => post(hooks.ok, 'x'.repeat(256 * 1024 + 1), { 'calendly-webhook-signature': sign(APP_KEY, T, 'x'.repeat(256 * 1024 + 1)) }), 413, 'payload_too_large'],
      ['unknown hook, signed', async () => deliver(good(), APP_KEY, randomToken()), 410, 'webhook_gone'],
      ['unknown hook, unsigned', async () => post(randomToken(), good()), 401, 'missing_signature'],
      ['malformed hook key', async () => deliver(good(), APP_KEY, 'a/b'), 410, 'webhook_gone'],
      ['retired hook', async () => deliver(good(), APP_KEY, hooks.retired), 410, 'webhook_gone'],
      ['retired hook, its own key', async () => deliver(good(), hookKeyFor.retired, hooks.retired), 410, 'webhook_gone'],
      ['disconnected connection', async () => deliver(good(), APP_KEY, hooks.disc), 410, 'webhook_gone'],
      ['missing connection', async () => deliver(good(), APP_KEY, hooks.noconn), 410, 'webhook_gone'],
      ['disconnected connection, unparseable body', async () => deliver('not json', APP_KEY, hooks.disc), 410, 'webhook_gone'],
      ['disconnected connection, ignored event', async () => deliver(envelope('routing_form_submission.created', {}), APP_KEY, hooks.disc), 410, 'webhook_gone'],
      ["another hook's key", async () => deliver(good(), hookKeyFor.disc), 401, 'bad_signature'],
    ];
    for (const [name, run, status, code] of cases) {
      it(`${name} → ${status}`, async () => {
        clockNow = NOW;
        const before = { meetings: (await items(db.tables.meetings)).length, parked: (await items(db.tables.parkedWebhooks)).length };
        counter.reset();
        const res = await run();
        expect(res.status).toBe(status);
        expect(res.body).toMatchObject({ error: code });
        expect(typeof res.body.message).toBe('string');
        expect(counter.writes()).toBe(0);
        expect((await items(db.tables.meetings)).length).toBe(before.meetings);
        expect((await items(db.tables.parkedWebhooks)).length).toBe(before.parked);
        if (status === 413) expect(counter.total()).toBe(0);
      });
    }
  });

  describe('parking', () => {
    it('a signed non-JSON body is parked (202), counted, kept with a 30-day TTL, and writes no meeting', async () => {
      metrics.splice(0);
      const before = (await items(db.tables.meetings)).length;
      const body = 'this is { not json';
      expect(await deliver(body)).toEqual({ status: 202, body: { status: 'parked' } });
      expect(metrics.filter((m) => m.name === 'ParkedWebhooks')).toEqual([{ name: 'ParkedWebhooks', value: 1 }]);
      expect((await items(db.tables.meetings)).length).toBe(before);
      const parked = await deps.parked.get(parkedIdOf(hooks.ok, Buffer.from(body)), NOW);
      expect(parked?.body.toString()).toBe(body);
      expect(parked?.userId).toBe('user-ok');
      expect(parked?.expiresAtEpoch).toBe(T + 30 * 24 * 3600);
      // the same body again: still 202, still one item
      expect((await deliver(body)).status).toBe(202);
      expect((await items(db.tables.parkedWebhooks)).filter((i) => i.id === parked?.id)).toHaveLength(1);
      // expired items are treated as gone in code
      expect(await deps.parked.get(parkedIdOf(hooks.ok, Buffer.from(body)), NOW + 31 * 24 * 3600 * 1000)).toBeUndefined();
    });

    it('signed non-envelope JSON and an invalid payload are parked, never a 4xx', async () => {
      for (const body of ['{"hello":"world"}', '[]', envelope('invitee.created', { uri: 42 }), envelope('invitee.created', { uri: 'https://x/no-event' }), '']) {
        const before = (await items(db.tables.meetings)).length;
        expect(await deliver(body)).toEqual({ status: 202, body: { status: 'parked' } });
        expect((await items(db.tables.meetings)).length).toBe(before);
      }
    });

    it('replayParked re-applies a parked body with today\'s schemas and removes it', async () => {
      // As if parked by an older release that could not read it: park a body directly.
      const body = Buffer.from(created('EVREPLAY', 'I1', 1));
      const { id } = await deps.parked.park({ userId: 'user-ok', hookKey: hooks.ok, body, reason: 'older schema', nowMs: NOW });
      expect(await replayParked(deps, id)).toBe('applied');
      expect((await view('user-ok', 'EVREPLAY'))?.status).toBe('active');
      expect(await replayParked(deps, id)).toBe('not_found');
      const bad = await deps.parked.park({ userId: 'user-ok', hookKey: hooks.ok, body: Buffer.from('nope'), reason: 'x', nowMs: NOW });
      expect(await replayParked(deps, bad.id)).toBe('still_invalid');
    });
  });

  describe('app key rotation (Secrets Manager mocked)', () => {
    it('re-reads the key once after a mismatch, and at most once a minute for forged requests', async () => {
      const newKey = 'rotated-app-key-' + 'b'.repeat(30);
      secrets.rotate(newKey);
      clockNow = NOW + 10 * 60_000;
      const t = Math.floor(clockNow / 1000);
      const body = created('EVROT', 'I1', 1);
      const before = secrets.calls.refresh;
      expect((await post(hooks.ok, body, { 'calendly-webhook-signature': sign(newKey, t, body) })).body).toEqual({ status: 'applied' });
      expect(secrets.calls.refresh).toBe(before + 1);
      for (let i = 0; i < 5; i++) {
        expect((await post(hooks.ok, body, { 'calendly-webhook-signature': sign('forged', t, body) })).status).toBe(401);
      }
      expect(secrets.calls.refresh).toBe(before + 1);
      clockNow += 61_000;
      expect((await post(hooks.ok, body, { 'calendly-webhook-signature': sign('forged', t + 61, body) })).status).toBe(401);
      expect(secrets.calls.refresh).toBe(before + 2);
    });
  });
});
