/**
 * The configuration every Lambda reads, in one schema. Each composition root picks the fields it
 * uses, so a Lambda fails at start when something it needs is missing, and never because a value
 * meant for another Lambda is absent. Nothing falls back to a made-up value: the CDK stack and the
 * local runtime set every required field.
 */
import * as z from 'zod';
import { tableNamesFromEnv, type TableKey } from '../store/tables.js';

const serviceEnvSchema = z.object({
  PUBLIC_BASE_URL: z.url(),
  APP_REDIRECT_URL: z.url(),
  CALENDLY_AUTH_URL: z.url(),
  CALENDLY_API_URL: z.url(),
  /**
   * How old a webhook signature's `t` may be. Calendly retries a failed delivery for 24 h and may
   * keep the first attempt's `t`, so the default covers that window plus an hour.
   */
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(172_800).default(90_000),
  /**
   * The health schedule's period. The stack sets it to the schedule's rate; the local runtime runs
   * its own scheduler and leaves it unset, so the check falls back to the stack's default rate.
   */
  HEALTH_CHECK_INTERVAL_SECONDS: z.coerce.number().positive().default(900),
  /**
   * How often the health check queues a reconciliation sync of each connection (even when its
   * hook is healthy), so meetings whose deliveries were all lost still arrive.
   */
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(60).max(30 * 86400).default(86400),
  SYNC_QUEUE_URL: z.string().min(1),
  /** The sync queue's redrive maxReceiveCount: the receive that reaches it is a message's last try. */
  SYNC_QUEUE_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000),
  HEALTH_QUEUE_URL: z.string().min(1),
  /** AWS: the Secrets Manager secret (JSON) holding AppSecrets. Unset locally. */
  APP_SECRET_ARN: z.string().min(1).optional(),
  /** Local only: endpoints of dynalite and fauxqs (unset in AWS, where the SDK finds the service). */
  DYNAMODB_ENDPOINT: z.url().optional(),
  SQS_ENDPOINT: z.url().optional(),
  /** The bus Meeting Changed events go to (the stack's; locally the runtime's in-process bus). */
  EVENT_BUS_NAME: z.string().min(1),
  /** A local PutEvents endpoint (the local runtime's /dev/eventbridge); unset in AWS. */
  EVENTS_ENDPOINT: z.url().optional(),
  /** Local only (AWS reads these from the secret). */
  CALENDLY_CLIENT_ID: z.string().optional(),
  CALENDLY_CLIENT_SECRET: z.string().optional(),
  CALENDLY_WEBHOOK_SIGNING_KEY: z.string().optional(),
  TOKEN_ENCRYPTION_KEY: z.string().optional(),
  /** AWS: the Secrets Manager secret holding the token keyring (shared/crypto.ts parseKeyring). */
  TOKEN_KEYRING_ARN: z.string().min(1).optional(),
  /** Local: the token keyring itself (from DATA_DIR/local-keys.json); wins over TOKEN_ENCRYPTION_KEY. */
  TOKEN_KEYRING: z.string().min(1).optional(),
});

export type ServiceEnv = z.infer<typeof serviceEnvSchema>;
export type EnvKey = keyof ServiceEnv;

/** The fields that say where the app secret comes from (one of them is always needed with a secret). */
export const SECRET_SOURCE_KEYS = ['APP_SECRET_ARN', 'CALENDLY_CLIENT_ID', 'CALENDLY_CLIENT_SECRET', 'CALENDLY_WEBHOOK_SIGNING_KEY', 'TOKEN_ENCRYPTION_KEY'] as const;

/** Parses the named fields of the environment; throws (naming the field, never its value) when one is bad. */
export function readEnv<K extends EnvKey>(keys: readonly K[], source: NodeJS.ProcessEnv = process.env): Pick<ServiceEnv, K> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as { [P in K]: true };
  const parsed = serviceEnvSchema.pick(mask as never).safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data as unknown as Pick<ServiceEnv, K>;
}

/** The physical names of the tables a Lambda uses; a missing name throws. */
export function readTables<K extends TableKey>(keys: readonly K[], source: NodeJS.ProcessEnv = process.env): Record<K, string> {
  return tableNamesFromEnv(source, keys);
}
