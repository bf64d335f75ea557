/**
 * Composition root of the connections and OAuth callback Lambdas: the connection flows over the
 * connections, OAuth states and hook keys tables, Calendly and the sync queue.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CalendlyPort } from '../calendly/port.js';
import type { ConnectionDeps, RepairDeps } from '../flows/connection-deps.js';
import { realSleeper, systemClock, type Clock, type Queue, type Sleeper } from '../ports.js';
import type { SecretBox } from '../shared/crypto.js';
import { createConnectionStore } from '../store/connections/index.js';
import { createOAuthStateStore } from '../store/oauth-states.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { readEnv, readTables } from './env.js';
import { lazy } from './lazy.js';
import { calendly, dynamo, oauthRedirectUri, queueFromEnv, secretBox, webhookCallbackUrl } from './services.js';

export const CONNECTION_TABLES = ['connections', 'oauthStates', 'webhookKeys'] as const;

interface ConnectionParts {
  doc: DynamoDBDocumentClient;
  box: SecretBox;
  calendly: CalendlyPort;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper;
  publicBaseUrl: string;
}

/** What the health check's repair needs: no OAuth states table (it never starts a connect). */
export function repairDepsFrom(p: ConnectionParts & { tables: { connections: string; webhookKeys: string } }): RepairDeps {
  return {
    connections: createConnectionStore(p.doc, p.tables.connections, p.box),
    webhookKeys: createWebhookKeyStore(p.doc, p.tables.webhookKeys, p.box),
    calendly: p.calendly,
    queue: p.queue,
    clock: p.clock,
    sleeper: p.sleeper,
    webhookCallbackUrl: (hookKey: string) => webhookCallbackUrl(p.publicBaseUrl, hookKey),
  };
}

export function connectionDepsFrom(p: ConnectionParts & { tables: Record<(typeof CONNECTION_TABLES)[number], string>; appRedirectUrl: string }): ConnectionDeps {
  return {
    ...repairDepsFrom(p),
    calendly: p.calendly,
    oauthStates: createOAuthStateStore(p.doc, p.tables.oauthStates, p.box),
    oauthRedirectUri: oauthRedirectUri(p.publicBaseUrl),
    appRedirectUrl: p.appRedirectUrl,
  };
}

/** The parts every Calendly-facing root shares, from the environment (the secret read first). */
export async function connectionPartsFromEnv(): Promise<ConnectionParts> {
  const env = readEnv(['PUBLIC_BASE_URL']);
  const [box, api] = await Promise.all([secretBox(), calendly()]);
  return { doc: dynamo().doc, box, calendly: api, queue: queueFromEnv(['sync']), clock: systemClock, sleeper: realSleeper, publicBaseUrl: env.PUBLIC_BASE_URL };
}

export const connectionDeps = lazy(async (): Promise<ConnectionDeps> =>
  connectionDepsFrom({
    ...(await connectionPartsFromEnv()),
    tables: readTables(CONNECTION_TABLES),
    appRedirectUrl: readEnv(['APP_REDIRECT_URL']).APP_REDIRECT_URL,
  }),
);
