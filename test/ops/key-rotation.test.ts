/**
 * Token key rotation on dynalite, with the real stores, flows and the Calendly sandbox: a new key
 * is added and promoted, and every stored token and signing key is re-sealed while connections
 * refresh their tokens and webhook deliveries arrive, all at once. Afterwards every sealed value
 * carries the new key id, every connection still has working tokens, every delivery was applied;
 * values sealed before key ids existed (`v1`) and under the old key open until that key is dropped.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import { addKey, dropKey, keyIdCounts, promoteKey, resealAll, type KeyringStore, type RotationTarget } from '../../functions/ops/rotate-keys.js';
import type { SecretsSource } from '../../functions/ports.js';
import { createSecretBox, KeyringError, serializeKeyring, singleKeyring, type Keyring } from '../../functions/shared/crypto.js';
import { logSinks } from '../../functions/shared/logger.js';
import { createConnectionStore } from '../../functions/store/connections/index.js';
import { createWebhookKeyStore } from '../../functions/store/webhook-keys.js';
import { ingestDepsFrom } from '../../functions/wiring/webhook.js';
import { connectViaOAuth, hookKeyOf, newEmail, newUserId, ourHooks, startHarness, type Harness } from '../connections/harness.js';
import { at, envelope, inviteePayload, sign, webhookEvent } from '../ingest/helpers.js';

const K1 = randomBytes(32);

/** The keyring as every "Lambda" in this test sees it: one store, read on every seal and open. */
function memoryKeyring(initial: Keyring): KeyringStore & { ring: () => Keyring } {
  let ring = initial;
  return {
    ring: () => ring,
    read: async () => ring,
    write: async (next) => {
      ring = next;
    },
  };
}

/** A value as the first release sealed it: `v1.<iv>.<tag>.<ct>`, no key id. */
function sealV1(key: Buffer, plain: string, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

const APP_KEY = 'app-key-' + 'r'.repeat(40);
const appSecrets: SecretsSource = {
  get: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'unused' }),
  refresh: async () => ({ clientId: 'c', clientSecret: 's', webhookSigningKey: APP_KEY, tokenEncryptionKey: 'unused' }),
};

let h: Harness;
let keyring: ReturnType<typeof memoryKeyring>;
const logs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  h = await startHarness();
  keyring = memoryKeyring(singleKeyring(K1));
  logSinks.push((l) => void logs.push(l));
});
afterAll(async () => {
  logSinks.splice(0);
  await h?.close();
});

describe('rotating the token key while traffic flows', () => {
  it('re-seals everything with the new key; no connection loses its tokens; every delivery is applied; old keys open until dropped', async () => {
    const box = createSecretBox(() => keyring.ring());
    const deps = () => {
      const doc = h.db.newClients().doc;
      return { ...h.deps({ doc }), connections: createConnectionStore(doc, h.db.tables.connections, box), webhookKeys: createWebhookKeyStore(doc, h.db.tables.webhookKeys, box) };
    };
    const target: RotationTarget = { doc: h.db.newClients().doc, tables: h.db.tables, keyring };

    // Connections made before the rotation: their tokens and hook signing keys are sealed with k1.
    const users: Array<{ userId: string; hookKey: string; signingKey: string }> = [];
    for (let i = 0; i < 6; i++) {
      const userId = newUserId();
      const { user } = await connectViaOAuth(h, deps(), userId, newEmail());
      const [hook] = ourHooks(h, user.uri);
      users.push({ userId, hookKey: hookKeyOf(hook!.callbackUrl), signingKey: hook!.signingKey });
    }
    // One access token as the first release sealed it (no key id): it opens with the first key.
    const legacy = users[0]!;
    const { accessToken: legacyToken } = (await deps().connections.getWithTokens(legacy.userId))!.tokens!;
    await h.db.doc.send(
      new UpdateCommand({
        TableName: h.db.tables.connections,
        Key: { userId: legacy.userId },
        UpdateExpression: 'SET accessTokenSealed = :v',
        ExpressionAttributeValues: { ':v': sealV1(K1, legacyToken, `${legacy.userId}#access`) },
      }),
    );
    expect((await deps().connections.getWithTokens(legacy.userId))?.tokens?.accessToken).toBe(legacyToken);
    const oldSealed = String((await h.db.doc.send(new GetCommand({ TableName: h.db.tables.webhookKeys, Key: { hookKey: users[1]!.hookKey } }))).Item?.signingKeySealed);
    expect(oldSealed).toMatch(/^v2\.k1\./);

    await addKey(target, 'k2');
    await promoteKey(target, 'k2');
    // Nothing is re-sealed yet: k1 is still needed, and dropping it is refused.
    await expect(dropKey(target, 'k1')).rejects.toBeInstanceOf(KeyringError);

    // Traffic and rotation at once: forced refreshes, deliveries to every hook, the re-seal in pages of 2.
    const handler = makeWebhookHandler(ingestDepsFrom({ doc: h.db.newClients().doc, tables: h.db.tables, box, secrets: appSecrets, clock: h.clock, toleranceSeconds: 180 }));
    const deliveries: Array<{ userId: string; ev: string }> = [];
    const deliver = async (u: (typeof users)[number], n: number) => {
      const ev = `EV-${u.userId.slice(2, 10)}-${n}`;
      deliveries.push({ userId: u.userId, ev });
      const body = envelope('invitee.created', inviteePayload({ ev, inv: `I${n}`, updatedAt: at(n), event: { updatedAt: at(n) } }));
      const res = await handler(webhookEvent(u.hookKey, body, { 'calendly-webhook-signature': sign(u.signingKey, Math.floor(h.clock.now() / 1000), body) }));
      return JSON.parse(String(res.body)) as { status: string };
    };
    const pages: Array<{ table: string; resumeFrom?: string }> = [];
    const [answers, , first] = await Promise.all([
      Promise.all(users.flatMap((u) => [1, 2, 3].map((n) => deliver(u, n)))),
      Promise.all(users.map((u) => getAccessToken(deps(), u.userId, { forceRefresh: true }))),
      resealAll(target, { pageSize: 2, onPage: (p) => void pages.push(p) }),
    ]);
    expect(answers.every((a) => a.status === 'applied')).toBe(true);
    expect(first.scanned).toBeGreaterThanOrEqual(users.length * 2);
    // Resumable: each page printed where to pick up; the last one printed nothing.
    expect(pages.slice(0, -1).every((p) => typeof p.resumeFrom === 'string')).toBe(true);
    expect(pages.at(-1)?.resumeFrom).toBeUndefined();

    // A second pass catches what a concurrent write got to first (nothing, if it sealed with k2).
    await resealAll(target);
    const counts = await keyIdCounts(target);
    for (const [table, byKid] of Object.entries(counts)) expect(Object.keys(byKid).filter((k) => k !== 'k2'), table).toEqual([]);
    expect(counts.connections?.k2).toBeGreaterThanOrEqual(users.length * 2);
    expect(counts.webhookKeys?.k2).toBeGreaterThanOrEqual(users.length);

    // Nobody lost anything: tokens open and Calendly accepts them; every delivery is stored.
    for (const u of users) {
      const token = await getAccessToken(deps(), u.userId);
      expect(await deps().calendly.getCurrentUser(token)).toMatchObject({ uri: expect.any(String) });
    }
    const stored = (await h.db.doc.send(new ScanCommand({ TableName: h.db.tables.meetings, ConsistentRead: true }))).Items ?? [];
    for (const d of deliveries) expect(stored.some((m) => m.userId === d.userId && String(m.eventUri).endsWith(`/${d.ev}`)), d.ev).toBe(true);

    // The old key still opens what it sealed until it is dropped; then it does not.
    expect(box.open(oldSealed, users[1]!.userId)).toBe(users[1]!.signingKey);
    await dropKey(target, 'k1');
    expect(keyring.ring().keys.map((k) => k.kid)).toEqual(['k2']);
    expect(() => box.open(oldSealed, users[1]!.userId)).toThrow(KeyringError);

    // Secrets never in logs or errors.
    const text = JSON.stringify(logs) + String(await dropKey(target, 'k2').catch((e: Error) => e.message));
    for (const secret of [K1.toString('base64'), serializeKeyring(keyring.ring()), legacyToken, ...users.map((u) => u.signingKey)]) expect(text).not.toContain(secret);
  });
});
