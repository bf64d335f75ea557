import { createCipheriv, createDecipheriv, randomBytes, createHash } from 'node:crypto';

/**
 * Secrets at rest (access tokens, refresh tokens, signing keys, PKCE verifiers) are sealed with
 * AES-256-GCM under a keyring. Format: `v2.<kid>.<iv>.<tag>.<ciphertext>` (base64url parts): the
 * key id says which key opens it, so the key can be rotated while old values still open. The
 * older `v1.<iv>.<tag>.<ciphertext>` (no key id) opens with the keyring's legacy key: the one
 * named `v1`, else the first key. A fresh 12-byte IV per seal; the caller's AAD (the user id and
 * field) is bound, so a sealed value copied onto another user's item does not open.
 */
export interface SecretBox {
  seal(plain: string, aad: string): string;
  open(sealed: string, aad: string): string;
  /** The key id new seals use. */
  readonly currentKid: string;
  /** The key id a sealed value was sealed with (`v1` for the format without one). */
  kidOf(sealed: string): string;
}

/** Key ids: short, and never `current` (the keyring's pointer) or anything that needs escaping. */
const KID = /^[A-Za-z0-9_-]{1,32}$/;

/** Ordered keys by id, and which one seals. */
export interface Keyring {
  current: string;
  keys: ReadonlyArray<{ kid: string; key: Buffer }>;
}

export class KeyringError extends Error {
  override name = 'KeyringError';
}

/** One key as a keyring of one (TOKEN_ENCRYPTION_KEY, tests): it seals, and opens `v1` values. */
export function singleKeyring(key: Buffer, kid = 'k1'): Keyring {
  return { current: kid, keys: [{ kid, key }] };
}

/**
 * Parses a keyring as stored (the key secret, local-keys.json): a flat JSON object
 * `{"current":"k2","k1":"<base64 32 bytes>","k2":"..."}`, keys in the order they were added. Flat,
 * so Secrets Manager can generate the first one (`generateStringKey`). Errors name the key ids only.
 */
export function parseKeyring(json: string): Keyring {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new KeyringError('the token keyring is not JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new KeyringError('the token keyring must be a JSON object');
  const { current, ...rest } = raw as Record<string, unknown>;
  const keys: Array<{ kid: string; key: Buffer }> = [];
  for (const [kid, value] of Object.entries(rest)) {
    if (!KID.test(kid)) throw new KeyringError(`token keyring: key id ${JSON.stringify(kid.slice(0, 40))} is not [A-Za-z0-9_-]{1,32}`);
    if (typeof value !== 'string') throw new KeyringError(`token keyring: key ${kid} is not a string`);
    try {
      keys.push({ kid, key: parseEncryptionKey(value) });
    } catch {
      throw new KeyringError(`token keyring: key ${kid} must be 32 bytes, base64-encoded`);
    }
  }
  if (typeof current !== 'string' || !keys.some((k) => k.kid === current)) throw new KeyringError('token keyring: "current" must name one of its keys');
  return { current, keys };
}

/** The stored form of a keyring (what parseKeyring reads). */
export function serializeKeyring(ring: Keyring): string {
  const out: Record<string, string> = { current: ring.current };
  for (const { kid, key } of ring.keys) out[kid] = key.toString('base64');
  return JSON.stringify(out, null, 2);
}

/** The keyring with the pre-keyring key added as `v1` (what `v1` values open with), unless it has one. */
export function withLegacyKey(ring: Keyring, legacy: Buffer | undefined): Keyring {
  if (!legacy || ring.keys.some((k) => k.kid === 'v1')) return ring;
  return { current: ring.current, keys: [{ kid: 'v1', key: legacy }, ...ring.keys] };
}

/** A keyring with a new random key added (not yet current: promote it once every reader has it). */
export function withNewKey(ring: Keyring, kid: string, key: Buffer = randomBytes(32)): Keyring {
  if (!KID.test(kid) || kid === 'current') throw new KeyringError('a key id is [A-Za-z0-9_-]{1,32}');
  if (ring.keys.some((k) => k.kid === kid)) throw new KeyringError(`the keyring already has a key ${kid}`);
  return { current: ring.current, keys: [...ring.keys, { kid, key }] };
}

export function createSecretBox(keyOrRing: Buffer | Keyring | (() => Keyring)): SecretBox {
  const ringOf: () => Keyring = typeof keyOrRing === 'function' ? keyOrRing : Buffer.isBuffer(keyOrRing) ? () => singleKeyring(keyOrRing) : () => keyOrRing;
  for (const { key } of ringOf().keys) if (key.length !== 32) throw new Error('token encryption key must be 32 bytes (AES-256)');
  const keyFor = (kid: string): Buffer => {
    const ring = ringOf();
    const found = kid === 'v1' ? (ring.keys.find((k) => k.kid === 'v1') ?? ring.keys[0]) : ring.keys.find((k) => k.kid === kid);
    if (!found) throw new KeyringError(`no key ${kid} in the token keyring`);
    return found.key;
  };
  const parts = (sealed: string) => {
    const p = sealed.split('.');
    if (p[0] === 'v1' && p.length === 4) return { kid: 'v1', iv: p[1]!, tag: p[2]!, ct: p[3]! };
    if (p[0] === 'v2' && p.length === 5 && KID.test(p[1]!)) return { kid: p[1]!, iv: p[2]!, tag: p[3]!, ct: p[4]! };
    throw new Error('sealed value has an unknown format');
  };
  return {
    get currentKid() {
      return ringOf().current;
    },
    kidOf: (sealed) => parts(sealed).kid,
    seal(plain, aad) {
      const kid = ringOf().current;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keyFor(kid), iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v2', kid, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed, aad) {
      const { kid, iv, tag, ct } = parts(sealed);
      const decipher = createDecipheriv('aes-256-gcm', keyFor(kid), Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** Parses a base64 (or base64url) 32-byte key; throws a message that never echoes the key. */
export function parseEncryptionKey(value: string): Buffer {
  const buf = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (buf.length !== 32) throw new Error('must be 32 bytes, base64-encoded');
  return buf;
}

/** URL-safe random token (hook keys, OAuth state, lease owners, generated signing keys). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Base64Url(input: string): string {
  return createHash('sha256').update(input).digest('base64url');
}
