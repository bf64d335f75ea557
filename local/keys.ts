/**
 * Key material the local runtime makes for itself: the token-encryption key (so sealed tokens
 * still open after a restart) and the key pair behind the local JWT issuer (so a session token
 * minted before a restart is still accepted). Kept in DATA_DIR with owner-only permissions, or
 * only in memory for ':memory:'.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import * as z from 'zod';
import { parseEncryptionKey, parseKeyring, serializeKeyring, singleKeyring, type Keyring } from '../functions/shared/crypto.js';

export const JWT_ALG = 'RS256';

export interface SandboxCredentials {
  clientId: string;
  clientSecret: string;
  webhookSigningKey: string;
}

export interface LocalKeys {
  /** base64, 32 bytes: the first token key (it opens values sealed before key ids). */
  tokenEncryptionKey: string;
  /** The token keyring (shared/crypto.ts parseKeyring), as the handlers get it in TOKEN_KEYRING. */
  tokenKeyring: string;
  jwt: { kid: string; privateKey: CryptoKey; publicJwk: JWK };
  /** The embedded sandbox's OAuth app, kept so a restart talks to "the same" app. */
  sandbox: SandboxCredentials;
}

const fileSchema = z.object({
  version: z.literal(1),
  tokenEncryptionKey: z.string().min(1),
  /**
   * The token keyring, flat (`{"current":"k2","k1":"…","k2":"…"}`); `npm run rotate-keys` edits it.
   * Absent in files written before key rotation: then it is the one key above, as `k1`.
   */
  tokenKeyring: z.record(z.string(), z.string()).optional(),
  jwt: z.object({ kid: z.string().min(1), privateJwk: z.record(z.string(), z.unknown()) }),
  sandbox: z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1), webhookSigningKey: z.string().min(1) }),
});

const newSandboxCredentials = (): SandboxCredentials => ({
  clientId: `sandbox-${randomBytes(9).toString('base64url')}`,
  clientSecret: randomBytes(32).toString('base64url'),
  webhookSigningKey: randomBytes(32).toString('base64url'),
});

export const KEYS_FILE = 'local-keys.json';

/** The keyring of a single key (a file from before key rotation, a fresh one). */
const keyringOf = (tokenEncryptionKey: string): string => serializeKeyring(singleKeyring(parseEncryptionKey(tokenEncryptionKey)));

/**
 * The keyring in `<dataDir>/local-keys.json`, for `npm run rotate-keys` (stop the local runtime
 * first: it reads the file when it starts). Writes keep every other field and replace the file
 * atomically, owner-only.
 */
export function localKeyringFile(dataDir: string): { read(): Promise<Keyring>; write(ring: Keyring): Promise<void> } {
  const path = join(dataDir, KEYS_FILE);
  const load = async () => {
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (!parsed.success) throw new Error(`${path} is damaged`);
    return parsed.data;
  };
  return {
    read: async () => {
      const file = await load();
      return parseKeyring(file.tokenKeyring ? JSON.stringify(file.tokenKeyring) : keyringOf(file.tokenEncryptionKey));
    },
    write: async (ring) => {
      const file = { ...(await load()), tokenKeyring: JSON.parse(serializeKeyring(ring)) as Record<string, string> };
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}

async function freshKeys(): Promise<{ file: z.infer<typeof fileSchema>; keys: LocalKeys }> {
  const { privateKey, publicKey } = await generateKeyPair(JWT_ALG, { extractable: true });
  const kid = randomUUID();
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: JWT_ALG, use: 'sig' };
  const tokenEncryptionKey = randomBytes(32).toString('base64');
  const sandbox = newSandboxCredentials();
  return {
    file: { version: 1, tokenEncryptionKey, tokenKeyring: JSON.parse(keyringOf(tokenEncryptionKey)) as Record<string, string>, jwt: { kid, privateJwk }, sandbox },
    keys: { tokenEncryptionKey, tokenKeyring: keyringOf(tokenEncryptionKey), jwt: { kid, privateKey: privateKey as CryptoKey, publicJwk }, sandbox },
  };
}

async function fromFile(file: z.infer<typeof fileSchema>): Promise<LocalKeys> {
  const priv = file.jwt.privateJwk as JWK;
  const privateKey = (await importJWK(priv, JWT_ALG)) as CryptoKey;
  const { n, e, kty } = priv;
  return {
    tokenEncryptionKey: file.tokenEncryptionKey,
    tokenKeyring: file.tokenKeyring ? JSON.stringify(file.tokenKeyring) : keyringOf(file.tokenEncryptionKey),
    jwt: { kid: file.jwt.kid, privateKey, publicJwk: { kty, n, e, kid: file.jwt.kid, alg: JWT_ALG, use: 'sig' } },
    sandbox: file.sandbox,
  };
}

/** Loads the keys from `dataDir`, creating them on first start; in memory for ':memory:'. */
export async function loadOrCreateKeys(dataDir: string): Promise<LocalKeys> {
  if (dataDir === ':memory:') return (await freshKeys()).keys;
  const path = join(dataDir, KEYS_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const parsed = fileSchema.safeParse(JSON.parse(text));
    // Never regenerate over a damaged file: that would silently orphan every sealed token.
    if (!parsed.success) throw new Error(`${path} is damaged; move it away to start with new local keys (sealed tokens will no longer open)`);
    return fromFile(parsed.data);
  }
  const { file, keys } = await freshKeys();
  await mkdir(dataDir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
  await rename(tmp, path);
  return keys;
}
