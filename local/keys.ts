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

export const JWT_ALG = 'RS256';

export interface SandboxCredentials {
  clientId: string;
  clientSecret: string;
  webhookSigningKey: string;
}

export interface LocalKeys {
  /** base64, 32 bytes. */
  tokenEncryptionKey: string;
  jwt: { kid: string; privateKey: CryptoKey; publicJwk: JWK };
  /** The embedded sandbox's OAuth app, kept so a restart talks to "the same" app. */
  sandbox: SandboxCredentials;
}

const fileSchema = z.object({
  version: z.literal(1),
  tokenEncryptionKey: z.string().min(1),
  jwt: z.object({ kid: z.string().min(1), privateJwk: z.record(z.string(), z.unknown()) }),
  sandbox: z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1), webhookSigningKey: z.string().min(1) }),
});

const newSandboxCredentials = (): SandboxCredentials => ({
  clientId: `sandbox-${randomBytes(9).toString('base64url')}`,
  clientSecret: randomBytes(32).toString('base64url'),
  webhookSigningKey: randomBytes(32).toString('base64url'),
});

export const KEYS_FILE = 'local-keys.json';

async function freshKeys(): Promise<{ file: z.infer<typeof fileSchema>; keys: LocalKeys }> {
  const { privateKey, publicKey } = await generateKeyPair(JWT_ALG, { extractable: true });
  const kid = randomUUID();
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: JWT_ALG, use: 'sig' };
  const tokenEncryptionKey = randomBytes(32).toString('base64');
  const sandbox = newSandboxCredentials();
  return {
    file: { version: 1, tokenEncryptionKey, jwt: { kid, privateJwk }, sandbox },
    keys: { tokenEncryptionKey, jwt: { kid, privateKey: privateKey as CryptoKey, publicJwk }, sandbox },
  };
}

async function fromFile(file: z.infer<typeof fileSchema>): Promise<LocalKeys> {
  const priv = file.jwt.privateJwk as JWK;
  const privateKey = (await importJWK(priv, JWT_ALG)) as CryptoKey;
  const { n, e, kty } = priv;
  return {
    tokenEncryptionKey: file.tokenEncryptionKey,
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
