/**
 * The environment the handlers read (functions/wiring/ memoises it on first use), as the
 * stack gives it to the Lambdas, pointing at the local services.
 */
import type { CalendlyApp, CalendlyTarget } from './calendly.js';
import type { LocalConfig } from './config.js';
import { LOCAL_EVENT_BUS_NAME } from './events.js';
import type { LocalKeys } from './keys.js';
import type { LocalQueues } from './queues.js';
import type { LocalStore } from './store.js';

export interface HandlerEnvInput {
  config: LocalConfig;
  keys: LocalKeys;
  store: Pick<LocalStore, 'tableEnv' | 'endpoint'>;
  queues: Pick<LocalQueues, 'endpoint' | 'queues' | 'maxReceiveCount'>;
  publicBaseUrl: string;
  calendly: CalendlyTarget;
  app: CalendlyApp;
  /** The front door's PutEvents endpoint for the in-process bus. */
  eventsEndpoint?: string;
}

export function handlerEnvironment({ config, keys, store, queues, publicBaseUrl, calendly, app, eventsEndpoint }: HandlerEnvInput): Record<string, string> {
  return {
    ...store.tableEnv,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    DYNAMODB_ENDPOINT: store.endpoint,
    SQS_ENDPOINT: queues.endpoint,
    SYNC_QUEUE_URL: queues.queues.sync.url,
    HEALTH_QUEUE_URL: queues.queues.health.url,
    PUBLIC_BASE_URL: publicBaseUrl,
    APP_REDIRECT_URL: config.appRedirectUrl ?? `${publicBaseUrl}/`,
    CALENDLY_AUTH_URL: calendly.authUrl,
    CALENDLY_API_URL: calendly.apiUrl,
    CALENDLY_CLIENT_ID: app.clientId,
    CALENDLY_CLIENT_SECRET: app.clientSecret,
    CALENDLY_WEBHOOK_SIGNING_KEY: app.webhookSigningKey,
    // TOKEN_ENCRYPTION_KEY, when configured, is the single current key; else the keyring file's.
    ...(config.tokenEncryptionKey ? { TOKEN_ENCRYPTION_KEY: config.tokenEncryptionKey } : { TOKEN_KEYRING: keys.tokenKeyring }),
    WEBHOOK_TOLERANCE_SECONDS: String(config.webhookToleranceSeconds),
    RECONCILE_INTERVAL_SECONDS: String(config.reconcileIntervalSeconds),
    SYNC_QUEUE_MAX_RECEIVE_COUNT: String(queues.maxReceiveCount),
    LOG_LEVEL: config.logLevel,
    EVENT_BUS_NAME: LOCAL_EVENT_BUS_NAME,
    ...(eventsEndpoint ? { EVENTS_ENDPOINT: eventsEndpoint } : {}),
  };
}

/** Hands the environment to the handlers; call before any of them is imported. */
export function applyHandlerEnvironment(env: Record<string, string>): void {
  // One key source at a time: a keyring left by an earlier start must not shadow TOKEN_ENCRYPTION_KEY.
  delete process.env.TOKEN_KEYRING;
  delete process.env.TOKEN_ENCRYPTION_KEY;
  Object.assign(process.env, env);
  // Locally the secrets come from the environment, never from Secrets Manager.
  delete process.env.APP_SECRET_ARN;
}
