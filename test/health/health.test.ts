import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disconnect } from '../../functions/flows/disconnect.js';
import { checkConnectionHealth, type HealthCheckDeps } from '../../functions/flows/health/index.js';
import { ingestWebhook, type IngestDeps } from '../../functions/flows/ingest.js';
import { createHealthWorkerHandler } from '../../functions/edge/health-worker.js';
import { healthDepsFrom } from '../../functions/wiring/health-worker.js';
import { checkShardOf } from '../../functions/store/connections/index.js';
import { createParkedWebhookStore } from '../../functions/store/parked-webhooks.js';
import type { MeetingChangedEvent } from '../../functions/domain/meeting-events.js';
import type { MeetingEventPublisher } from '../../functions/ports.js';
import { connectUser, sqsEvent, sqsRecord, startHarness, takeMessages, type Harness } from '../sync/harness.js';

const INTERVAL = 15 * 60_000;

/**
 * A webhook endpoint on 127.0.0.1 running the real ingest flow over the harness's stores, so
 * the sandbox's deliveries to a repaired hook can be seen landing in the meetings table.
 */
async function startIngestServer(): Promise<{ url: string; bind(deps: IngestDeps): void; close(): Promise<void> }> {
  let deps: IngestDeps | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/webhooks\/calendly\/([^/?]+)$/.exec(req.url ?? '');
      if (!deps || req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      const sig = req.headers['calendly-webhook-signature'];
      ingestWebhook(deps, { hookKey: decodeURIComponent(m[1] as string), signature: Array.isArray(sig) ? sig[0] : sig, body: Buffer.concat(chunks) })
        .then((r) => res.writeHead(r.statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(r.body)))
        .catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bind: (d) => (deps = d),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('health worker over dynalite, fauxqs and the Calendly sandbox', { timeout: 90_000 }, () => {
  let h: Harness;
  let ingest: Awaited<ReturnType<typeof startIngestServer>>;
  let deps: HealthCheckDeps;
  /** The host app's bus as the ingest server and the check publish to it; `down` refuses everything. */
  const bus = { down: false, events: [] as MeetingChangedEvent[] };
  const publisher: MeetingEventPublisher = {
    publish: async (batch) => {
      if (bus.down) return { failed: [...batch] };
      bus.events.push(...batch);
      return { failed: [] };
    },
  };

  beforeAll(async () => {
    ingest = await startIngestServer();
    h = await startHarness({ publicBaseUrl: ingest.url });
    ingest.bind({
      publisher,
      hookKeys: h.webhookKeys,
      connectionStatus: async (userId) => (await h.connections.get(userId))?.status,
      appKey: { current: async () => h.sandbox.webhookSigningKey, refreshed: async () => undefined },
      meetings: h.meetings,
      parked: createParkedWebhookStore(h.db.doc, h.db.tables.parkedWebhooks),
      clock: h.clock,
      toleranceSeconds: 180,
      metric: () => undefined,
    });
    deps = healthDepsFrom(h.cd, { intervalMs: INTERVAL }, undefined, { meetings: h.meetings, publisher });
  });
  afterAll(async () => {
    await h?.close();
    await ingest?.close();
  });

  const activeHooks = (userUri: string) => h.sandbox.webhooks(userUri).filter((w) => w.state === 'active');
  const dueNow = async (userId: string) => {
    const out = await h.connections.listDue(Number(checkShardOf(userId)), Number.MAX_SAFE_INTEGER, 1000);
    return out.items.some((i) => i.userId === userId);
  };

  it('a healthy connection costs one Calendly call and moves its next check on by the interval plus jitter', async () => {
    const c = await connectUser(h, 'h-ok@example.test');
    h.sandbox.resetCalls();
    const now = h.clock.now();
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r.outcome).toBe('healthy');
    expect(h.sandbox.calls()).toEqual({ 'GET /webhook_subscriptions': 1 });
    const conn = await h.connections.get(c.userId);
    expect(conn?.lastCheckOutcome).toBe('healthy');
    expect(conn?.lastCheckedAt).toBeGreaterThanOrEqual(now);
    expect(conn?.nextCheckAt).toBeGreaterThanOrEqual(now + INTERVAL);
    expect(conn?.nextCheckAt).toBeLessThanOrEqual(h.clock.now() + INTERVAL * 1.1);
    expect(conn?.webhook?.healthyAt).toBeGreaterThanOrEqual(now);

    // The scheduler's duplicate of a check that already happened: skipped without any call.
    h.sandbox.resetCalls();
    const dup = await checkConnectionHealth(deps, { userId: c.userId, dueAt: now - 1 });
    expect(dup.outcome).toBe('skipped_not_due');
    expect(h.sandbox.calls()).toEqual({});
  });

  it('an access token Calendly refuses: exactly one refresh, the hook left intact', async () => {
    const c = await connectUser(h, 'h-expired@example.test');
    h.sandbox.expireAccessTokens(c.user.uri);
    h.sandbox.resetCalls();
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r.outcome).toBe('healthy');
    const calls = h.sandbox.calls();
    expect(calls['POST /oauth/token']).toBe(1);
    expect(calls['GET /webhook_subscriptions']).toBe(2); // the refused one, then with the new token
    expect(calls['POST /webhook_subscriptions'] ?? 0).toBe(0);
    expect(calls['DELETE /webhook_subscriptions/{uuid}'] ?? 0).toBe(0);
    expect(activeHooks(c.user.uri).map((w) => w.uri)).toEqual([c.webhookUri]);
  });

  it('a token due for refresh is refreshed once before use (never the raw stored token)', async () => {
    const c = await connectUser(h, 'h-due@example.test');
    h.sandbox.advance((7200 - 120) * 1000); // expires within the 5-minute refresh margin
    h.sandbox.resetCalls();
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r.outcome).toBe('healthy');
    expect(h.sandbox.calls()).toEqual({ 'POST /oauth/token': 1, 'GET /webhook_subscriptions': 1 });
    expect(activeHooks(c.user.uri).map((w) => w.uri)).toEqual([c.webhookUri]);
  });

  it('a disabled hook is replaced (create first, then delete), a catch-up sync is queued, and a new booking lands', async () => {
    const c = await connectUser(h, 'h-disabled@example.test');
    const healthyAt = (await h.connections.get(c.userId))?.webhook?.healthyAt as number;
    await takeMessages(h, 'sync'); // whatever earlier tests left
    h.sandbox.disableWebhook(c.webhookUri as string);
    h.sandbox.resetCalls();
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r).toMatchObject({ outcome: 'repaired', problem: 'disabled' });
    const hooks = h.sandbox.webhooks(c.user.uri);
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    expect(hook.state).toBe('active');
    expect(hook.uri).not.toBe(c.webhookUri);
    const conn = await h.connections.get(c.userId);
    expect(conn?.webhook).toMatchObject({ uri: hook.uri, state: 'active' });
    expect(hook.callbackUrl).toBe(h.webhookUrl(conn?.webhook?.hookKey as string));
    expect((await h.webhookKeys.get(conn?.webhook?.hookKey as string))?.userId).toBe(c.userId);
    const order = Object.keys(h.sandbox.calls());
    expect(order.indexOf('POST /webhook_subscriptions')).toBeLessThan(order.indexOf('DELETE /webhook_subscriptions/{uuid}'));

    const syncs = await takeMessages(h, 'sync');
    expect(syncs).toEqual([{ userId: c.userId, reason: 'repair', minStartTime: expect.any(String) }]);
    const from = Date.parse((syncs[0] as { minStartTime: string }).minStartTime);
    expect(from).toBeLessThanOrEqual(healthyAt - 3_600_000);
    expect(from).toBeGreaterThanOrEqual(h.clock.now() - 30 * 86_400_000);

    const booked = await h.sandbox.book({ userUri: c.user.uri, invitees: [{ email: 'guest@example.test' }] });
    expect(booked.deliveries.map((d) => [d.callbackUrl, d.status])).toEqual([[hook.callbackUrl, 200]]);
    const eventId = String(booked.event.uri).split('/').pop() as string;
    expect((await h.meetings.get(c.userId, eventId))?.event?.status).toBe('active');
  });

  it('a hook deleted at Calendly is recreated', async () => {
    const c = await connectUser(h, 'h-deleted@example.test');
    h.sandbox.deleteWebhookAtCalendly(c.webhookUri as string);
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r).toMatchObject({ outcome: 'repaired', problem: 'missing' });
    const hooks = activeHooks(c.user.uri);
    expect(hooks).toHaveLength(1);
    expect((await h.connections.get(c.userId))?.webhook?.uri).toBe(hooks[0]?.uri);
  });

  it('a refused refresh leaves the connection authorization_required and out of the check index', async () => {
    const c = await connectUser(h, 'h-revoked@example.test');
    expect(await dueNow(c.userId)).toBe(true);
    h.sandbox.revokeAllTokens(c.user.uri);
    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r.outcome).toBe('authorization_required');
    expect((await h.connections.get(c.userId))?.status).toBe('authorization_required');
    expect(await dueNow(c.userId)).toBe(false);
    // A stray message for it afterwards calls nobody.
    h.sandbox.resetCalls();
    expect((await checkConnectionHealth(deps, { userId: c.userId, force: true })).outcome).toBe('skipped_not_checked');
    expect(h.sandbox.calls()).toEqual({});
  });

  it('a booking stored while the bus was down is published by the connection\'s next check, once', async () => {
    const c = await connectUser(h, 'h-bus@example.test');
    bus.down = true;
    const booked = await h.sandbox.book({ userUri: c.user.uri, invitees: [{ email: 'late@example.test', name: 'Late' }], name: 'Bus outage' });
    expect(booked.deliveries.map((d) => d.status)).toEqual([200]);
    expect(bus.events.filter((e) => e.detail.eventUri === booked.event.uri)).toEqual([]);
    bus.down = false;
    // Past the sweep's grace period (its writer might still have been publishing before it).
    h.sandbox.advance(2 * 60_000);
    expect((await checkConnectionHealth(deps, { userId: c.userId, force: true })).outcome).toBe('healthy');
    expect((await checkConnectionHealth(deps, { userId: c.userId, force: true })).outcome).toBe('healthy');
    const published = bus.events.filter((e) => e.detail.eventUri === booked.event.uri);
    expect(published.map((e) => [e.detail.change, e.detail.version, e.detail.userId])).toEqual([['created', 1, c.userId]]);
  });

  it('Calendly down during disconnect: the next check finishes the cleanup', async () => {
    const c = await connectUser(h, 'h-disc@example.test');
    h.sandbox.inject({ method: 'GET', path: '/webhook_subscriptions', status: 503, times: 3 });
    expect(await disconnect(h.cd, c.userId)).toEqual({ status: 'disconnected' });
    const pending = await h.connections.get(c.userId);
    expect(pending).toMatchObject({ status: 'disconnected', cleanupPending: true });
    expect(activeHooks(c.user.uri)).toHaveLength(1); // still at Calendly
    expect(await dueNow(c.userId)).toBe(true);

    const r = await checkConnectionHealth(deps, { userId: c.userId, force: true });
    expect(r.outcome).toBe('cleanup_done');
    expect(h.sandbox.webhooks(c.user.uri)).toHaveLength(0);
    expect((await h.connections.get(c.userId))?.cleanupPending).toBe(false);
    expect(await dueNow(c.userId)).toBe(false);
  });

  it('the SQS handler: invalid bodies are dropped, good ones checked, nothing reported failed', async () => {
    const c = await connectUser(h, 'h-sqs@example.test');
    const handler = createHealthWorkerHandler(() => deps);
    const out = await handler(sqsEvent(sqsRecord({ userId: c.userId, force: true }), sqsRecord({ userId: c.userId, extra: true }), sqsRecord('{')));
    expect(out.batchItemFailures).toEqual([]);
    expect((await h.connections.get(c.userId))?.lastCheckOutcome).toBe('healthy');
  });
});
