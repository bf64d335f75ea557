/**
 * HTTP: GET/DELETE /connections/calendly, POST /connections/calendly/connect and
 * /connections/calendly/reconnect. Thin: parse, call the flow, shape the answer.
 */
import { z } from 'zod';
import type { ConnectionDeps } from '../flows/connection-deps.js';
import { beginConnect } from '../flows/connect.js';
import { disconnect } from '../flows/disconnect.js';
import { reconnect } from '../flows/reconnect.js';
import { getStatus } from '../flows/status.js';
import { realSleeper } from '../ports.js';
import { AppError } from '../shared/errors.js';
import { json, parseJsonBody, userIdOf, withErrors, type HttpEvent, type HttpResult } from '../shared/http.js';
import { createConnectionStore } from '../store/connections.js';
import { createOAuthStateStore } from '../store/oauth-states.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { calendly, clock, dynamo, oauthRedirectUri, queue, secretBox, serviceEnv, tables, webhookCallbackUrl } from '../wiring.js';

let memo: Promise<ConnectionDeps> | undefined;

/** The connection flows' ports from the environment (memoised per container). */
export function connectionDepsFromEnv(): Promise<ConnectionDeps> {
  memo ??= (async () => {
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
  memo.catch(() => (memo = undefined));
  return memo;
}

/** These routes take no body fields; anything sent must be an empty object. */
const emptyBody = z.object({}).strict();

export function createConnectionsHandler(getDeps: () => Promise<ConnectionDeps>) {
  return (event: HttpEvent): Promise<HttpResult> =>
    withErrors(event, async () => {
      const userId = userIdOf(event);
      const method = event.requestContext.http.method.toUpperCase();
      const path = event.rawPath.replace(/\/+$/, '');
      const deps = await getDeps();
      if (path === '/connections/calendly' && method === 'GET') return json(200, await getStatus(deps, userId));
      if (path === '/connections/calendly' && method === 'DELETE') return json(200, await disconnect(deps, userId));
      if (path === '/connections/calendly/connect' && method === 'POST') {
        parseJsonBody(event, emptyBody);
        return json(200, await beginConnect(deps, userId));
      }
      if (path === '/connections/calendly/reconnect' && method === 'POST') {
        parseJsonBody(event, emptyBody);
        return json(200, await reconnect(deps, userId));
      }
      throw new AppError(404, 'not_found', 'No such route.');
    });
}

export const handler = createConnectionsHandler(connectionDepsFromEnv);
