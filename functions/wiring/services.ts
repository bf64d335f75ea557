/**
 * The outside services, each built once per container on first use: DynamoDB, the queues, the
 * app secret and what is derived from it (the box for secrets at rest, the Calendly client).
 * A root asks only for what its Lambda uses, so it reads only the configuration it needs.
 *
 * Each `lazy(...)` is marked pure so the bundler drops the services a Lambda never names (esbuild
 * honours the mark only at the call site), and the Calendly client is a dynamic import so a
 * Lambda that never calls Calendly carries neither the client nor undici.
 */
import { createDynamoClients } from '../adapters/dynamo.js';
import { createEventBridgePublisher } from '../adapters/eventbridge.js';
import { createKeyringSecret, createSecretsManagerSource, createStaticSecrets } from '../adapters/secrets.js';
import { createSqsQueue } from '../adapters/sqs-queue.js';
import type { CalendlyPort } from '../calendly/port.js';
import type { MeetingEventPublisher, Queue, QueueName, SecretsSource } from '../ports.js';
import { createSecretBox, parseEncryptionKey, parseKeyring, singleKeyring, withLegacyKey, type Keyring, type SecretBox } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import { readEnv, SECRET_SOURCE_KEYS } from './env.js';
import { lazy } from './lazy.js';

export const dynamo = /* @__PURE__ */ lazy(() => createDynamoClients({ endpoint: readEnv(['DYNAMODB_ENDPOINT']).DYNAMODB_ENDPOINT }));

/** Meeting Changed events onto EVENT_BUS_NAME (in AWS the stack's bus; locally the runtime's, at EVENTS_ENDPOINT). */
export const meetingEventPublisher = /* @__PURE__ */ lazy((): MeetingEventPublisher => {
  const env = readEnv(['EVENT_BUS_NAME', 'EVENTS_ENDPOINT']);
  return createEventBridgePublisher({ busName: env.EVENT_BUS_NAME, endpoint: env.EVENTS_ENDPOINT });
});

const queueUrlKey = { sync: 'SYNC_QUEUE_URL', health: 'HEALTH_QUEUE_URL' } as const;

/** A queue port that sends to the named queues only (the others have no URL in this Lambda). */
export function queueFromEnv(sends: readonly QueueName[]): Queue {
  const env = readEnv(['SQS_ENDPOINT', ...sends.map((q) => queueUrlKey[q])]);
  const urls: Record<QueueName, string> = { sync: '', health: '' };
  for (const q of sends) urls[q] = env[queueUrlKey[q]] as string;
  const sqs = createSqsQueue({ urls, endpoint: env.SQS_ENDPOINT });
  return {
    send: (queue, messages, opts) =>
      sends.includes(queue) ? sqs.send(queue, messages, opts) : Promise.reject(new Error(`this function does not send to the ${queue} queue`)),
  };
}

/** AWS: the Secrets Manager secret; locally: the four values from the environment. */
export const appSecrets = /* @__PURE__ */ lazy((): SecretsSource => {
  const env = readEnv(SECRET_SOURCE_KEYS);
  if (env.APP_SECRET_ARN) return createSecretsManagerSource({ secretId: env.APP_SECRET_ARN });
  const { CALENDLY_CLIENT_ID, CALENDLY_CLIENT_SECRET, CALENDLY_WEBHOOK_SIGNING_KEY, TOKEN_ENCRYPTION_KEY } = env;
  const hasKeyring = readEnv(['TOKEN_KEYRING']).TOKEN_KEYRING !== undefined;
  if (!CALENDLY_CLIENT_ID || !CALENDLY_CLIENT_SECRET || !CALENDLY_WEBHOOK_SIGNING_KEY || (!TOKEN_ENCRYPTION_KEY && !hasKeyring)) {
    throw new Error('invalid configuration: APP_SECRET_ARN or CALENDLY_CLIENT_ID/CALENDLY_CLIENT_SECRET/CALENDLY_WEBHOOK_SIGNING_KEY and TOKEN_KEYRING or TOKEN_ENCRYPTION_KEY must be set');
  }
  return createStaticSecrets({
    clientId: CALENDLY_CLIENT_ID,
    clientSecret: CALENDLY_CLIENT_SECRET,
    webhookSigningKey: CALENDLY_WEBHOOK_SIGNING_KEY,
    ...(TOKEN_ENCRYPTION_KEY ? { tokenEncryptionKey: TOKEN_ENCRYPTION_KEY } : {}),
  });
});

/**
 * How long a container seals and opens with its copy of the keyring before re-reading it (in the
 * background; the current call uses the copy it has). The rotation waits longer than this between
 * adding a key and promoting it, so no container meets a key id it does not know.
 */
export const KEYRING_MAX_AGE_MS = 5 * 60_000;

/** Where the keyring comes from: its own secret (AWS), TOKEN_KEYRING (local), else the single pre-keyring key. */
function keyringLoader(): () => Promise<Keyring> {
  const env = readEnv(['TOKEN_KEYRING_ARN', 'TOKEN_KEYRING', 'TOKEN_ENCRYPTION_KEY', 'APP_SECRET_ARN']);
  const legacy = async () => {
    const key = (await appSecrets().get()).tokenEncryptionKey;
    return key ? parseEncryptionKey(key) : undefined;
  };
  if (env.TOKEN_KEYRING_ARN) {
    const secret = createKeyringSecret({ secretId: env.TOKEN_KEYRING_ARN, maxAgeSeconds: KEYRING_MAX_AGE_MS / 1000 });
    return async () => {
      const [text, old] = await Promise.all([secret.read(), env.APP_SECRET_ARN ? legacy() : undefined]);
      return withLegacyKey(parseKeyring(text), old);
    };
  }
  if (env.TOKEN_KEYRING) {
    const ring = parseKeyring(env.TOKEN_KEYRING);
    return async () => withLegacyKey(ring, env.TOKEN_ENCRYPTION_KEY ? parseEncryptionKey(env.TOKEN_ENCRYPTION_KEY) : undefined);
  }
  return async () => {
    const key = await legacy();
    if (!key) throw new Error('invalid configuration: TOKEN_KEYRING_ARN, TOKEN_KEYRING or a token encryption key must be set');
    return singleKeyring(key);
  };
}

/** The AES-256-GCM box for secrets at rest, over the keyring (re-read every KEYRING_MAX_AGE_MS). */
export const secretBox = /* @__PURE__ */ lazy(async (): Promise<SecretBox> => {
  const load = keyringLoader();
  let ring = await load();
  let loadedAt = Date.now();
  let loading = false;
  return createSecretBox(() => {
    if (!loading && Date.now() - loadedAt > KEYRING_MAX_AGE_MS) {
      loading = true;
      load()
        .then((next) => {
          ring = next;
          loadedAt = Date.now();
        })
        // The copy in hand still works; the next call tries again. The error names no key.
        .catch((error: unknown) => logger.warn('token keyring refresh failed', { error }))
        .finally(() => {
          loading = false;
        });
    }
    return ring;
  });
});

export const calendly = /* @__PURE__ */ lazy(async (): Promise<CalendlyPort> => {
  const env = readEnv(['CALENDLY_AUTH_URL', 'CALENDLY_API_URL']);
  const [{ createCalendlyClient }, app] = await Promise.all([import('../calendly/client.js'), appSecrets().get()]);
  return createCalendlyClient({ authBaseUrl: env.CALENDLY_AUTH_URL, apiBaseUrl: env.CALENDLY_API_URL, clientId: app.clientId, clientSecret: app.clientSecret });
});

/** The webhook callback URL for a hook key; the path is part of the HTTP contract. */
export function webhookCallbackUrl(publicBaseUrl: string, hookKey: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/webhooks/calendly/${encodeURIComponent(hookKey)}`;
}

export function oauthRedirectUri(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/oauth/calendly/callback`;
}
