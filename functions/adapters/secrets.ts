import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import type { AppSecrets, SecretsSource } from '../ports.js';
import { logSdkCalls } from './sdk-call-log.js';

const appSecretsSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  webhookSigningKey: z.string().min(1),
  // The pre-keyring token key: it still opens `v1` sealed values until a rotation re-seals them.
  tokenEncryptionKey: z.string().min(1).optional(),
});

/**
 * AWS: one Secrets Manager secret (JSON) read through Powertools Parameters, cached for
 * `maxAgeSeconds` per container; `refresh()` forces a fetch (after a signature mismatch, in case
 * the signing key was rotated).
 */
export function createSecretsManagerSource(opts: { secretId: string; client?: SecretsManagerClient; maxAgeSeconds?: number }): SecretsSource {
  const client = opts.client ?? new SecretsManagerClient({});
  logSdkCalls(client, 'secretsmanager');
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  const load = async (forceFetch: boolean) => {
    const value = await provider.get(opts.secretId, { transform: 'json', maxAge: opts.maxAgeSeconds ?? 300, forceFetch });
    const parsed = appSecretsSchema.safeParse(value);
    // The message names the fields only; never the values.
    if (!parsed.success) throw new Error(`secret ${opts.secretId} is missing fields: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    return parsed.data;
  };
  return { get: () => load(false), refresh: () => load(true) };
}

/** Local runtime and tests: secrets given directly (from configuration). */
export function createStaticSecrets(secrets: AppSecrets): SecretsSource {
  return { get: async () => secrets, refresh: async () => secrets };
}

/**
 * AWS: the token keyring, its own Secrets Manager secret (a flat JSON object, see
 * shared/crypto.ts parseKeyring), read as text and cached for `maxAgeSeconds`. `write` is for the
 * rotation command (PutSecretValue), never for a Lambda.
 */
export function createKeyringSecret(opts: { secretId: string; client?: SecretsManagerClient; maxAgeSeconds?: number }) {
  const client = opts.client ?? new SecretsManagerClient({});
  logSdkCalls(client, 'secretsmanager');
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  return {
    read: async (forceFetch = false): Promise<string> => {
      const value = await provider.get(opts.secretId, { maxAge: opts.maxAgeSeconds ?? 300, forceFetch });
      if (typeof value !== 'string') throw new Error(`secret ${opts.secretId} has no string value`);
      return value;
    },
    write: async (text: string): Promise<void> => {
      await client.send(new PutSecretValueCommand({ SecretId: opts.secretId, SecretString: text }));
    },
  };
}
