import { createCipheriv, createDecipheriv, randomBytes, createHash } from 'node:crypto';

/**
 * Secrets at rest (access tokens, refresh tokens, signing keys) are sealed with AES-256-GCM.
 * Format: `v1.<iv>.<tag>.<ciphertext>` (base64url). A fresh 12-byte IV per seal; the user id is
 * bound as additional authenticated data so a sealed value copied onto another user's item
 * does not open.
 */
export interface SecretBox {
  seal(plain: string, aad: string): string;
  open(sealed: string, aad: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('token encryption key must be 32 bytes (AES-256)');
  return {
    seal(plain, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed, aad) {
      const [v, iv, tag, ct] = sealed.split('.');
      if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
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
