import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createKeyringSecret, createSecretsManagerSource } from '../../functions/adapters/secrets.js';
import { parseKeyring, serializeKeyring, singleKeyring, withNewKey } from '../../functions/shared/crypto.js';

// No local Secrets Manager endpoint exists on this machine, so the SDK client is mocked here
// (aws-sdk-client-mock), as the brief allows; everything above the SDK call is real.
describe('Secrets Manager app-secret source (SDK client mocked with aws-sdk-client-mock)', () => {
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const sm = mockClient(client);
  const value = (clientSecret: string) => ({
    SecretString: JSON.stringify({ clientId: 'cid', clientSecret, webhookSigningKey: 'whk-secret-value', tokenEncryptionKey: 'k'.repeat(43) }),
  });

  beforeEach(() => sm.reset());

  it('reads the JSON secret once and serves it from cache afterwards', async () => {
    sm.on(GetSecretValueCommand).resolves(value('first-secret'));
    const source = createSecretsManagerSource({ secretId: 'arn:secret:app-1', client });
    expect((await source.get()).clientSecret).toBe('first-secret');
    expect((await source.get()).clientSecret).toBe('first-secret');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input.SecretId).toBe('arn:secret:app-1');
  });

  it('refresh() fetches again, so a rotated signing key is picked up', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce(value('old-secret')).resolves(value('new-secret'));
    const source = createSecretsManagerSource({ secretId: 'arn:secret:app-2', client });
    expect((await source.get()).clientSecret).toBe('old-secret');
    expect((await source.refresh()).clientSecret).toBe('new-secret');
    expect((await source.get()).clientSecret).toBe('new-secret');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('an incomplete secret fails closed, naming the missing fields and never a value', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: 'do-not-print-me' }) });
    const source = createSecretsManagerSource({ secretId: 'arn:secret:app-3', client });
    const err = (await source.get().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/webhookSigningKey/);
    // The pre-keyring token key is optional now (the keyring has its own secret).
    expect(err.message).not.toMatch(/tokenEncryptionKey/);
    expect(err.message).not.toContain('do-not-print-me');
  });
});

describe('Secrets Manager keyring secret (SDK client mocked)', () => {
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const sm = mockClient(client);
  beforeEach(() => sm.reset());

  it('reads the keyring text (cached unless forced) and writes a new version for the rotation command', async () => {
    const ring = singleKeyring(Buffer.alloc(32, 5));
    const next = withNewKey(ring, 'k2');
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: serializeKeyring(ring) }).resolves({ SecretString: serializeKeyring(next) });
    sm.on(PutSecretValueCommand).resolves({});
    const secret = createKeyringSecret({ secretId: 'arn:secret:keyring', client });
    expect(parseKeyring(await secret.read()).keys.map((k) => k.kid)).toEqual(['k1']);
    expect(parseKeyring(await secret.read()).keys.map((k) => k.kid)).toEqual(['k1']);
    expect(parseKeyring(await secret.read(true)).keys.map((k) => k.kid)).toEqual(['k1', 'k2']);
    await secret.write(serializeKeyring(next));
    expect(sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: 'arn:secret:keyring', SecretString: serializeKeyring(next) });
  });
});

