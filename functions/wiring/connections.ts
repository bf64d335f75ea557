/**
 * Composition root of the connections and OAuth callback Lambdas: the connection flows over the
 * connections, OAuth states and hook keys tables, Calendly and the sync queue.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CalendlyPort } from '../calendly/port.js';
import type { ConnectionDeps } from '../flows/connection-deps.js';
import { realSleeper, systemClock, type Clock, type Queue, type Sleeper } from '../ports.js';
import type { SecretBox } from '../shared/crypto.js';
import { createConnectionStore } from '../store/connections/index.js';
import { createOAuthStateStore } from '../store/oauth-states.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { calendly, dynamo, oauthRedirectUri, queueFromEnv, secretBox, webhookCallbackUrl } from './services.js';

export const CONNECTION_TABLES = ['connections', 'oauthStates', 'webhookKeys'] as const;

export function connectionDepsFrom(p: {
  doc: DynamoDBDocumentClient;
  tables: Record<(typeof CONNECTION_TABLES)[number], string>;
  box: SecretBox;
  calendly: CalendlyPort;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper;
  publicBaseUrl: string;
  appRedirectUrl: string;
}): ConnectionDeps {
  return {
    connections: createConnectionStore(p.doc, p.tables.connections, p.box),
    webhookKeys: createWebhookKeyStore(p.doc, p.tables.webhookKeys, p.box),
    oauthStates: createOAuthStateStore(p.doc, p.tables.oauthStates, p.box),
    calendly: p.calendly,
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
    webhookCallbackUrl: (hookKey: string) => webhookCallbackUrl(p.publicBaseUrl, hookKey),
    oauthRedirectUri: oauthRedirectUri(p.publicBaseUrl),
    appRedirectUrl: p.appRedirectUrl,
  };
}

export const connectionDeps = lazy(async (): Promise<ConnectionDeps> => {
  const env = readEnv(['PUBLIC_BASE_URL', 'APP_REDIRECT_URL']);
  const [box, api] = await Promise.all([secretBox(), calendly()]);
  return connectionDepsFrom({
    doc: dynamo().doc,
    tables: readTables(CONNECTION_TABLES),
    box,
    calendly: api,
    queue: queueFromEnv(['sync']),
    clock: systemClock,
    sleeper: realSleeper,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    appRedirectUrl: env.APP_REDIRECT_URL,
  });
});
