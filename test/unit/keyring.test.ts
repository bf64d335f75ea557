import { describe, expect, it } from 'vitest';
import { createSecretBox, KeyringError, parseKeyring, serializeKeyring, singleKeyring, withLegacyKey, withNewKey } from '../../functions/shared/crypto.js';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);

describe('token keyring', () => {
  it('seals with the current key id and opens with any key of the ring; the AAD is bound', () => {
    const ring = { current: 'k2', keys: [{ kid: 'k1', key: K1 }, { kid: 'k2', key: K2 }] };
    const box = createSecretBox(ring);
    const sealed = box.seal('tok', 'u1#access');
    expect(sealed).toMatch(/^v2\.k2\./);
    expect(box.kidOf(sealed)).toBe('k2');
    expect(box.open(sealed, 'u1#access')).toBe('tok');
    expect(() => box.open(sealed, 'u2#access')).toThrow();
    const old = createSecretBox(singleKeyring(K1)).seal('old', 'a');
    expect(box.open(old, 'a')).toBe('old');
    expect(() => createSecretBox(singleKeyring(K2, 'k2')).open(old, 'a')).toThrow(KeyringError);
  });

  it('v1 values open with the key named v1, else the first key', () => {
    // A v1 value: what a box of one key sealed before key ids (same cipher, no kid part).
    const v2 = createSecretBox(singleKeyring(K1)).seal('legacy', 'a').split('.');
    const v1 = ['v1', ...v2.slice(2)].join('.');
    expect(createSecretBox({ current: 'k2', keys: [{ kid: 'k1', key: K1 }, { kid: 'k2', key: K2 }] }).open(v1, 'a')).toBe('legacy');
    expect(createSecretBox(withLegacyKey(singleKeyring(K2, 'k2'), K1)).open(v1, 'a')).toBe('legacy');
    expect(() => createSecretBox(singleKeyring(K2, 'k2')).open(v1, 'a')).toThrow();
    expect(() => createSecretBox(singleKeyring(K1)).open('v3.x.y', 'a')).toThrow(/unknown format/);
  });

  it('parses and serializes the stored form; errors name key ids, never keys', () => {
    const ring = withNewKey(singleKeyring(K1), 'k2', K2);
    const text = serializeKeyring(ring);
    expect(parseKeyring(text)).toEqual(ring);
    // What Secrets Manager generates from the stack's template: 43 characters of [A-Za-z0-9].
    expect(parseKeyring(JSON.stringify({ current: 'k1', k1: 'A'.repeat(43) })).keys[0]!.key).toHaveLength(32);
    const secret = 'c2VjcmV0LW5vdC0zMi1ieXRlcw';
    for (const bad of ['nope', '[]', JSON.stringify({ current: 'k9', k1: K1.toString('base64') }), JSON.stringify({ current: 'k1', k1: secret }), JSON.stringify({ current: 'k1', 'bad id': secret })]) {
      const err = (() => {
        try {
          parseKeyring(bad);
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err, bad).toBeInstanceOf(KeyringError);
      expect(err!.message).not.toContain(secret);
    }
    expect(() => withNewKey(ring, 'k2')).toThrow(KeyringError);
    expect(() => withNewKey(ring, 'current')).toThrow(KeyringError);
  });
});
