/**
 * End to end with the Calendly sandbox over real HTTP on 127.0.0.1: the sandbox signs and
 * delivers webhooks (app key or per-hook key) to a small HTTP front for the webhook handler;
 * the handler stores into dynalite; GET /meetings reads them back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { WEBHOOK_EVENTS, type CalendlyPort, type TokenSet } from '../../functions/calendly/port.js';
import { toApiMeeting, eventIdOf } from '../../functions/domain/meeting/index.js';
import { createConnectionStatusReader } from '../../functions/store/connection-status.js';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { makeMeetingsHandler } from '../../functions/edge/meetings.js';
import { createSecretBox, parseEncryptionKey, randomToken } from '../../functions/shared/crypto.js';
import { createAppKeySource } from '../../functions/shared/webhook-signature.js';
import { createMeetingStore, type MeetingStore } from '../../functions/store/meetings/index.js';
import { createParkedWebhookStore } from '../../functions/store/parked-webhooks.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';
import { connectSandboxUser, sandboxClient, startSandbox, type Sandbox, type SandboxUser } from '../support/sandbox.js';
import { meetingsEvent, webhookEvent } from './helpers.js';

const box = createSecretBox(parseEncryptionKey(Buffer.alloc(32, 3).toString('base64')));

describe('ingest end to end with the Calendly sandbox', () => {
  let sandbox: Sandbox;
  let client: CalendlyPort;
  let db: TestDynamo;
  let server: Server;
  let baseUrl: string;
  let meetings: MeetingStore;
  let user: SandboxUser;
  let tokens: TokenSet;
  const userId = 'e2e-user';
  const hookKey = randomToken();
  const hookSigningKey = randomToken();
  let meetingsHandler: ReturnType<typeof makeMeetingsHandler>;
  /** What our front received (raw bytes, headers, our answer). */
  const received: Array<{ path: string; body: Buffer; headers: Record<string, string>; status: number; answer: string }> = [];

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = sandboxClient(sandbox);
    db = await startDynalite();
    meetings = createMeetingStore(db.doc, db.tables.meetings);
    const clock = { now: () => sandbox.now() };
    const handler = makeWebhookHandler({
      hookKeys: createWebhookKeyStore(db.doc, db.tables.webhookKeys, box),
      connectionStatus: createConnectionStatusReader(db.doc, db.tables.connections),
      appKey: createAppKeySource({ get: async () => secrets, refresh: async () => secrets }, clock),
      meetings,
      parked: createParkedWebhookStore(db.doc, db.tables.parkedWebhooks),
      clock,
      toleranceSeconds: 180,
      metric: () => undefined,
    });
    const secrets = { clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, webhookSigningKey: sandbox.webhookSigningKey, tokenEncryptionKey: 'x' };
    meetingsHandler = makeMeetingsHandler({ meetings, connectionStatus: createConnectionStatusReader(db.doc, db.tables.connections) });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const m = /^\/webhooks\/calendly\/([^/?]+)$/.exec(req.url ?? '');
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
        void (async () => {
          const body = Buffer.concat(chunks);
          const out = m ? await handler(webhookEvent(decodeURIComponent(m[1] as string), body, headers)) : { statusCode: 404, body: '{}' };
          received.push({ path: req.url ?? '', body, headers, status: out.statusCode ?? 500, answer: String(out.body) });
          res.writeHead(out.statusCode ?? 500, { 'content-type': 'application/json' });
          res.end(out.body);
        })();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    ({ user, tokens } = await connectSandboxUser(sandbox, client, { email: 'e2e@example.com' }));
    await createWebhookKeyStore(db.doc, db.tables.webhookKeys, box).create({ hookKey, userId, signingKey: hookSigningKey, now: sandbox.now() });
    await db.doc.send(new PutCommand({ TableName: db.tables.connections, Item: { userId, status: 'connected' } }));
    await client.createWebhookSubscription(tokens.accessToken, {
      url: `${baseUrl}/webhooks/calendly/${hookKey}`,
      events: WEBHOOK_EVENTS,
      organization: tokens.organizationUri,
      user: tokens.ownerUri,
      scope: 'user',
      signingKey: hookSigningKey,
    });
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await sandbox.close();
    await db.close();
  });

  const meetingOf = async (uri: string) => {
    const s = await meetings.get(userId, eventIdOf(uri) as string);
    return s ? toApiMeeting(s) : undefined;
  };

  for (const mode of ['app', 'hook'] as const) {
    it(`books a group event, cancels one invitee, reschedules, marks and clears a no-show (${mode} key)`, async () => {
      sandbox.setSigningMode(mode);
      const booked = await sandbox.book({ userUri: user.uri, invitees: [{ email: `a-${mode}@x.test` }, { email: `b-${mode}@x.test` }, { email: `c-${mode}@x.test` }] });
      expect(booked.deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
      const eventUri = String(booked.event.uri);
      const invitees = booked.invitees.map((i) => String(i.uri));
      let m = await meetingOf(eventUri);
      expect(m?.status).toBe('active');
      expect(m?.invitees).toHaveLength(3);
      expect(m?.startTime).toBe(new Date(String(booked.event.start_time)).toISOString());

      const cancel = await sandbox.cancel(invitees[0] as string, { reason: 'busy' });
      expect(cancel.deliveries.every((d) => d.status === 200)).toBe(true);
      m = await meetingOf(eventUri);
      expect(m?.status).toBe('active');
      expect(m?.invitees.find((i) => i.uri === invitees[0])?.status).toBe('canceled');

      const noShow = await sandbox.markNoShow(invitees[1] as string);
      expect(noShow.deliveries.every((d) => d.status === 200)).toBe(true);
      expect((await meetingOf(eventUri))?.invitees.find((i) => i.uri === invitees[1])?.noShow).toBe(true);
      sandbox.advance(1000);
      await sandbox.unmarkNoShow(invitees[1] as string);
      expect((await meetingOf(eventUri))?.invitees.find((i) => i.uri === invitees[1])?.noShow).toBe(false);

      sandbox.advance(1000);
      const moved = await sandbox.reschedule(invitees[2] as string, sandbox.now() + 3 * 24 * 3600_000);
      expect(moved.deliveries.every((d) => d.status === 200)).toBe(true);
      const old = await meetingOf(eventUri);
      expect(old?.invitees.find((i) => i.uri === invitees[2])).toMatchObject({ status: 'canceled', rescheduled: true });
      const fresh = await meetingOf(String(moved.newEvent.uri));
      expect(fresh?.status).toBe('active');
      expect(fresh?.invitees).toMatchObject([{ uri: String(moved.newInvitee.uri), status: 'active' }]);

      // The sandbox's delivery log says every attempt got a 2xx.
      expect(sandbox.deliveries().every((d) => d.ok)).toBe(true);
    });
  }

  it('a redelivered body is a duplicate; GET /meetings lists what was delivered', async () => {
    sandbox.setSigningMode('app');
    const booked = await sandbox.book({ userUri: user.uri, invitees: [{ email: 'dup@x.test' }] });
    const d = booked.deliveries[0];
    expect(d?.status).toBe(200);
    const last = received[received.length - 1];
    expect(last?.answer).toBe('{"status":"applied"}');
    // Calendly re-sends the very same signed bytes (a retry after a lost answer).
    const resent = await fetch(`${baseUrl}${last?.path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'calendly-webhook-signature': last?.headers['calendly-webhook-signature'] as string }, body: last?.body });
    expect(resent.status).toBe(200);
    expect(await resent.json()).toEqual({ status: 'duplicate' });
    const res = await meetingsHandler(meetingsEvent(userId, { from: new Date(sandbox.now()).toISOString(), to: new Date(sandbox.now() + 30 * 86_400_000).toISOString(), limit: '100' }));
    const body = JSON.parse(String(res.body)) as { meetings: Array<{ eventUri: string }> };
    expect(res.statusCode).toBe(200);
    expect(body.meetings.map((x) => x.eventUri)).toContain(String(booked.event.uri));
  });
});
