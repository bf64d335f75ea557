/**
 * What Calendly does with a delivery, over real HTTP against a local receiver: which key signs
 * it, 410 Gone deleting the subscription, and failures retried with exponential back-off on
 * the sandbox clock for 24 h before the subscription is disabled; the envelope stays the same
 * across retries and the signature's `t` is the first attempt's (default) or fresh (quirk).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSandbox, startWebhookReceiver, verifySignature, type Sandbox, type SandboxUser } from '../support/sandbox.js';

let sb: Sandbox;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let user: SandboxUser;
let token: string;
let n = 0;

async function api(method: string, path: string, body?: unknown) {
  const res = await request(path.startsWith('http') ? path : `${sb.baseUrl}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function hook(extra: Record<string, unknown> = {}): Promise<{ uri: string; url: string }> {
  const url = `${receiver.url}/retry/${++n}`;
  const r = await api('POST', '/webhook_subscriptions', { url, events: ['invitee.created'], organization: user.organization, user: user.uri, scope: 'user', ...extra });
  expect(r.status).toBe(201);
  return { uri: (r.json.resource as { uri: string }).uri, url };
}

const tOf = (sig: string) => Number(/^t=(\d+)/.exec(sig)![1]);
const received = (url: string) => receiver.received.filter((r) => url.endsWith(r.path));
const bookOne = () => sb.book({ userUri: user.uri, invitees: [{ email: `guest${++n}@example.test` }] });

beforeAll(async () => {
  const t0 = Date.parse('2030-08-01T10:00:00Z');
  sb = await startSandbox({ now: () => t0, deliveryTimeoutMs: 5_000 });
  receiver = await startWebhookReceiver();
  user = sb.createUser({ email: 'retries@example.test' });
});
afterAll(async () => {
  await receiver.close();
  await sb.close();
});
afterEach(() => {
  receiver.respondWith(200);
  receiver.received.length = 0;
  sb.setQuirks({ retrySignatureTime: 'first' });
  for (const h of sb.webhooks(user.uri)) sb.deleteWebhookAtCalendly(h.uri);
});
// A day of sandbox time passes in some tests: each starts with a fresh seeded token.
const freshToken = () => {
  sb.resetRateLimits();
  token = sb.mintTokens(user.uri).access_token;
};

describe('which key signs', () => {
  it("a subscription created with a signing_key is signed with it; one created without, with the app key", async () => {
    freshToken();
    const own = await hook({ signing_key: 'key-we-sent-at-create' });
    const plain = await hook();
    await bookOne();
    const [a] = received(own.url);
    const [b] = received(plain.url);
    expect(verifySignature(String(a!.headers['calendly-webhook-signature']), a!.rawBody, 'key-we-sent-at-create')).toBe(true);
    expect(verifySignature(String(a!.headers['calendly-webhook-signature']), a!.rawBody, sb.webhookSigningKey)).toBe(false);
    expect(verifySignature(String(b!.headers['calendly-webhook-signature']), b!.rawBody, sb.webhookSigningKey)).toBe(true);
    expect(sb.deliveries({ subscription: own.uri }).map((d) => d.signedWith)).toEqual(['hook']);
    expect(sb.deliveries({ subscription: plain.uri }).map((d) => d.signedWith)).toEqual(['app']);
  });
});

describe('410 Gone', () => {
  it('deletes the subscription at once and is never retried', async () => {
    freshToken();
    const h = await hook();
    receiver.respondWith(410);
    const r = await bookOne();
    expect(r.deliveries.map((d) => d.status)).toEqual([410]);
    expect((await api('GET', h.uri)).status).toBe(404);
    expect(sb.webhooks(user.uri)).toEqual([]);
    expect(sb.pendingDeliveries()).toBe(0);
    receiver.respondWith(200);
    expect(await sb.advanceDeliveries(25 * 3600_000)).toEqual([]);
    await bookOne();
    expect(received(h.url)).toHaveLength(1);
  });
});

describe('retries', () => {
  it('back off exponentially on the sandbox clock for 24 h, then the subscription is disabled', async () => {
    freshToken();
    const h = await hook();
    receiver.respondWith(500);
    const first = (await bookOne()).deliveries[0]!;
    expect(first).toMatchObject({ ok: false, status: 500, attempt: 1, nextAttemptAt: first.at + 60_000 });
    const retries = await sb.advanceDeliveries(24 * 3600_000);
    const times = [first, ...retries].map((d) => d.at - first.at);
    // 1, 2, 4, 8 … minutes apart while that stays within the day; the last one on the 24 h mark.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (let i = 0; i < gaps.length - 1; i++) expect(gaps[i]).toBe(60_000 * 2 ** i);
    expect(times[times.length - 1]).toBe(24 * 3600_000);
    expect(retries.length).toBeGreaterThanOrEqual(10);
    expect(retries.every((d) => !d.ok)).toBe(true);
    const view = sb.webhooks(user.uri).find((w) => w.uri === h.uri)!;
    expect(view.state).toBe('disabled');
    expect(sb.pendingDeliveries()).toBe(0);
    // The receiver saw the same envelope every time: created_at never moves.
    const bodies = received(h.url).map((r) => r.json);
    expect(bodies).toHaveLength(retries.length + 1);
    expect(new Set(bodies.map((b) => b.created_at)).size).toBe(1);
    expect(new Set(received(h.url).map((r) => r.rawBody)).size).toBe(1);
    // A disabled subscription gets nothing more.
    receiver.respondWith(200);
    await bookOne();
    expect(await sb.advanceDeliveries(3600_000)).toEqual([]);
    expect(received(h.url)).toHaveLength(retries.length + 1);
  });

  it('a receiver that recovers gets the retry when it falls due; retry_started_at is cleared', async () => {
    freshToken();
    const h = await hook();
    receiver.respondWith(503);
    await bookOne();
    expect(((await api('GET', h.uri)).json.resource as { retry_started_at: string | null }).retry_started_at).not.toBeNull();
    receiver.respondWith(200);
    expect(await sb.advanceDeliveries(59_000)).toEqual([]);
    const [retry] = await sb.advanceDeliveries(1_000);
    expect(retry).toMatchObject({ ok: true, attempt: 2 });
    expect((await api('GET', h.uri)).json.resource).toMatchObject({ state: 'active', retry_started_at: null });
  });

  it("keep the first attempt's t by default: a retry an hour later still verifies, with an hour-old t", async () => {
    freshToken();
    const h = await hook({ signing_key: 'retry-key' });
    receiver.respondWith(500);
    await bookOne();
    receiver.respondWith(200);
    sb.advance(3600_000);
    await sb.advanceDeliveries(0);
    const [a, b] = received(h.url);
    const sigA = String(a!.headers['calendly-webhook-signature']);
    const sigB = String(b!.headers['calendly-webhook-signature']);
    expect(tOf(sigB)).toBe(tOf(sigA));
    expect(Math.floor(sb.now() / 1000) - tOf(sigB)).toBe(3600);
    expect(sigB).toBe(sigA); // same body, same t: byte for byte the same delivery
    expect(verifySignature(sigB, b!.rawBody, 'retry-key')).toBe(true);
  });

  it('quirk retrySignatureTime "fresh": each retry is re-signed with the time it is sent', async () => {
    sb.setQuirks({ retrySignatureTime: 'fresh' });
    freshToken();
    const h = await hook({ signing_key: 'retry-key-2' });
    receiver.respondWith(500);
    await bookOne();
    receiver.respondWith(200);
    sb.advance(3600_000);
    await sb.advanceDeliveries(0);
    const [a, b] = received(h.url);
    const sigB = String(b!.headers['calendly-webhook-signature']);
    expect(tOf(sigB)).toBe(Math.floor(sb.now() / 1000));
    expect(tOf(sigB) - tOf(String(a!.headers['calendly-webhook-signature']))).toBe(3600);
    expect(b!.json.created_at).toBe(a!.json.created_at);
    expect(verifySignature(sigB, b!.rawBody, 'retry-key-2')).toBe(true);
  });
});
