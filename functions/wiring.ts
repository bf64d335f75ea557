/**
 * Composition root for the Lambdas (and the local runtime, which sets the same environment and
 * calls the same handlers). Everything here is built once per container and memoised.
 * Handlers take what they need from here and pass plain ports to the flows.
 */
import * as z from 'zod';
import { createDynamoClients } from './adapters/dynamo.js';
import { createSqsQueue } from './adapters/sqs-queue.js';
import { createSecretsManagerSource, createStaticSecrets } from './adapters/secrets.js';
import { createSecretBox, parseEncryptionKey, type SecretBox } from './shared/crypto.js';
import { systemClock, type Clock, type Queue, type SecretsSource } from './ports.js';
import { tableNamesFromEnv, type TableKey } from './store/tables.js';

const serviceEnvSchema = z.object({
  PUBLIC_BASE_URL: z.url(),
  APP_REDIRECT_URL: z.url(),
  CALENDLY_AUTH_URL: z.url().default('https://auth.calendly.com'),
  CALENDLY_API_URL: z.url().default('https://api.calendly.com'),
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(180),
  SYNC_QUEUE_URL: z.string().min(1).optional(),
  HEALTH_QUEUE_URL: z.string().min(1).optional(),
  /** AWS: the Secrets Manager secret (JSON) holding AppSecrets. Unset locally. */
  APP_SECRET_ARN: z.string().min(1).optional(),
  /** Local only: endpoints of dynalite and fauxqs. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  SQS_ENDPOINT: z.url().optional(),
  /** Local only (AWS reads these from the secret). */
  CALENDLY_CLIENT_ID: z.string().optional(),
  CALENDLY_CLIENT_SECRET: z.string().optional(),
  CALENDLY_WEBHOOK_SIGNING_KEY: z.string().optional(),
  TOKEN_ENCRYPTION_KEY: z.string().optional(),
});

export type ServiceEnv = z.infer<typeof serviceEnvSchema>;

export const memo = <T>(make: () => T) => {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
};

export const serviceEnv = memo((): ServiceEnv => {
  const parsed = serviceEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
});

export const clock: Clock = systemClock;

export const dynamo = memo(() => createDynamoClients({ endpoint: serviceEnv().DYNAMODB_ENDPOINT }));

export const tables = memo((): Record<TableKey, string> => tableNamesFromEnv());

export const queue = memo((): Queue => {
  const env = serviceEnv();
  return createSqsQueue({
    urls: { sync: env.SYNC_QUEUE_URL ?? '', health: env.HEALTH_QUEUE_URL ?? '' },
    endpoint: env.SQS_ENDPOINT,
  });
});

export const secrets = memo((): SecretsSource => {
  const env = serviceEnv();
  if (env.APP_SECRET_ARN) return createSecretsManagerSource({ secretId: env.APP_SECRET_ARN });
  const { CALENDLY_CLIENT_ID, CALENDLY_CLIENT_SECRET, CALENDLY_WEBHOOK_SIGNING_KEY, TOKEN_ENCRYPTION_KEY } = env;
  if (!CALENDLY_CLIENT_ID || !CALENDLY_CLIENT_SECRET || !CALENDLY_WEBHOOK_SIGNING_KEY || !TOKEN_ENCRYPTION_KEY) {
    throw new Error('invalid configuration: APP_SECRET_ARN or CALENDLY_CLIENT_ID/CALENDLY_CLIENT_SECRET/CALENDLY_WEBHOOK_SIGNING_KEY/TOKEN_ENCRYPTION_KEY must be set');
  }
  return createStaticSecrets({
    clientId: CALENDLY_CLIENT_ID,
    clientSecret: CALENDLY_CLIENT_SECRET,
    webhookSigningKey: CALENDLY_WEBHOOK_SIGNING_KEY,
    tokenEncryptionKey: TOKEN_ENCRYPTION_KEY,
  });
});

/** The AES-256-GCM box for secrets at rest, keyed from the app secret. */
export const secretBox = memo(async (): Promise<SecretBox> => createSecretBox(parseEncryptionKey((await secrets().get()).tokenEncryptionKey)));

/** The webhook callback URL for a hook key; the path is part of the HTTP contract. */
export function webhookCallbackUrl(publicBaseUrl: string, hookKey: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/webhooks/calendly/${encodeURIComponent(hookKey)}`;
}

export function oauthRedirectUri(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/oauth/calendly/callback`;
}
