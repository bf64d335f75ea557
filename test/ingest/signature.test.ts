import { describe, expect, it } from 'vitest';
import { createAppKeySource, parseSignatureHeader, signatureHeader, verifySignature } from '../../functions/shared/webhook-signature.js';
import type { AppSecrets } from '../../functions/ports.js';

const NOW = 1_780_000_000_000;
const T = NOW / 1000;
const body = Buffer.from('{"event":"invitee.created"}');
const verify = (header: string | undefined, keys = [{ label: 'app', key: 'k1' }], toleranceSeconds = 90_000) =>
  verifySignature({ header, body, keys, nowMs: NOW, toleranceSeconds });

describe('webhook signature', () => {
  it('accepts the app key or the hook key and says which matched', () => {
    expect(verify(signatureHeader('k1', T, body))).toEqual({ ok: true, matched: 'app' });
    expect(verify(signatureHeader('k2', T, body), [{ label: 'hook', key: 'k2' }, { label: 'app', key: 'k1' }])).toEqual({ ok: true, matched: 'hook' });
    // Signed with both (two v1 values): the first candidate, the hook's own key, is the one counted.
    const both = `${signatureHeader('k1', T, body)},${signatureHeader('k2', T, body).split(',')[1]}`;
    expect(verify(both, [{ label: 'hook', key: 'k2' }, { label: 'app', key: 'k1' }])).toEqual({ ok: true, matched: 'hook' });
  });

  it('accepts any of several v1 values and ignores unknown schemes', () => {
    const good = signatureHeader('k1', T, body).split(',')[1];
    expect(verify(`t=${T},v0=abc,v1=${'f'.repeat(64)},${good}`)).toEqual({ ok: true, matched: 'app' });
  });

  it('accepts a t up to the tolerance old (a retry keeping its first t) and up to 5 minutes ahead, inclusive', () => {
    expect(verify(signatureHeader('k1', T - 90_000, body)).ok).toBe(true);
    expect(verify(signatureHeader('k1', T - 24 * 3600, body)).ok).toBe(true);
    expect(verify(signatureHeader('k1', T + 300, body)).ok).toBe(true);
    expect(verify(signatureHeader('k1', T - 90_001, body))).toEqual({ ok: false, reason: 'stale_signature' });
    expect(verify(signatureHeader('k1', T + 301, body))).toEqual({ ok: false, reason: 'stale_signature' });
    // The future bound does not grow with the tolerance.
    expect(verify(signatureHeader('k1', T + 3600, body))).toEqual({ ok: false, reason: 'stale_signature' });
    expect(verify(signatureHeader('k1', T - 181, body), undefined, 180)).toEqual({ ok: false, reason: 'stale_signature' });
  });

  it('fails closed without a key, and names each failure', () => {
    expect(verify(signatureHeader('k1', T, body), [])).toEqual({ ok: false, reason: 'no_signing_key' });
    expect(verify(signatureHeader('', T, body), [{ label: 'app', key: '' }])).toEqual({ ok: false, reason: 'no_signing_key' });
    expect(verify(undefined)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verify('  ')).toEqual({ ok: false, reason: 'missing_signature' });
    for (const bad of ['t=1', 'v1=' + 'a'.repeat(64), `t=${T},v1=abc`, `t=x,v1=${'a'.repeat(64)}`, `t=${T},t=${T},v1=${'a'.repeat(64)}`, 'garbage', `t=${T};v1=${'a'.repeat(64)}`]) {
      expect(verify(bad)).toEqual({ ok: false, reason: 'malformed_signature' });
    }
    expect(verify(signatureHeader('other', T, body))).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify(signatureHeader('k1', T, Buffer.from('tampered')))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('parses upper-case hex and spaces around parts', () => {
    const h = signatureHeader('k1', T, body);
    const [t, v1] = h.split(',') as [string, string];
    expect(parseSignatureHeader(` ${t} , ${v1.toUpperCase().replace('V1', 'v1')} `)?.v1).toEqual([v1.slice(3)]);
  });

  it('refreshes the app key at most once per interval, and shares a refresh in flight', async () => {
    let refreshes = 0;
    const s: AppSecrets = { clientId: 'c', clientSecret: 's', webhookSigningKey: 'k', tokenEncryptionKey: 'e' };
    let now = 0;
    const src = createAppKeySource({ get: async () => s, refresh: async () => (refreshes++, s) }, { now: () => now }, 60_000);
    const [a, b] = await Promise.all([src.refreshed(), src.refreshed()]);
    expect([a, b]).toEqual(['k', 'k']);
    expect(refreshes).toBe(1);
    now = 59_999;
    expect(await src.refreshed()).toBeUndefined();
    now = 60_000;
    expect(await src.refreshed()).toBe('k');
    expect(refreshes).toBe(2);
  });
});
