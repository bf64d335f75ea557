/**
 * Composition root for the handlers that talk to Calendly (connections, OAuth callback, sync
 * and health workers). Kept apart from wiring.ts so that handlers which never call Calendly
 * (webhook ingest, meetings, the health scheduler) do not bundle the HTTP client.
 */
import { createCalendlyClient } from './calendly/client.js';
import type { CalendlyPort } from './calendly/port.js';
import type { ConnectionDeps } from './flows/connection-deps.js';
import { realSleeper } from './ports.js';
import { createConnectionStore } from './store/connections.js';
import { createOAuthStateStore } from './store/oauth-states.js';
import { createWebhookKeyStore } from './store/webhook-keys.js';
import { clock, dynamo, memo, oauthRedirectUri, queue, secretBox, secrets, serviceEnv, tables, webhookCallbackUrl } from './wiring.js';

export const calendly = memo(async (): Promise<CalendlyPort> => {
  const env = serviceEnv();
  const app = await secrets().get();
  return createCalendlyClient({
    authBaseUrl: env.CALENDLY_AUTH_URL,
    apiBaseUrl: env.CALENDLY_API_URL,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
  });
});

let connectionDeps: Promise<ConnectionDeps> | undefined;

/** The connection flows' ports from the environment (memoised per container). */
export function connectionDepsFromEnv(): Promise<ConnectionDeps> {
  connectionDeps ??= (async () => {
    const env = serviceEnv();
    const { doc } = dynamo();
    const t = tables();
    const [box, api] = await Promise.all([secretBox(), calendly()]);
    return {
      connections: createConnectionStore(doc, t.connections, box),
      webhookKeys: createWebhookKeyStore(doc, t.webhookKeys, box),
      oauthStates: createOAuthStateStore(doc, t.oauthStates, box),
      calendly: api,
      queue: queue(),
      clock,
      sleeper: realSleeper,
      webhookCallbackUrl: (hookKey: string) => webhookCallbackUrl(env.PUBLIC_BASE_URL, hookKey),
      oauthRedirectUri: oauthRedirectUri(env.PUBLIC_BASE_URL),
      appRedirectUrl: env.APP_REDIRECT_URL,
    };
  })();
  // A failed start (e.g. Secrets Manager unreachable) is retried by the next invocation.
  connectionDeps.catch(() => (connectionDeps = undefined));
  return connectionDeps;
}
