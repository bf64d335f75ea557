/**
 * The HTTP API's routes, shared by the CDK stack (lib/) and the local server (local/), so the
 * same paths exist in AWS and locally. `handler` names a file in functions/handlers/.
 */
export type HandlerName = 'connections' | 'meetings' | 'oauth-callback' | 'webhook' | 'ping';

export interface RouteDef {
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway route path syntax: `{name}` is a path parameter. */
  path: string;
  handler: HandlerName;
  /** Behind the JWT authorizer. */
  auth: boolean;
}

export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', path: '/connections/calendly', handler: 'connections', auth: true },
  { method: 'POST', path: '/connections/calendly/connect', handler: 'connections', auth: true },
  { method: 'POST', path: '/connections/calendly/reconnect', handler: 'connections', auth: true },
  { method: 'DELETE', path: '/connections/calendly', handler: 'connections', auth: true },
  { method: 'GET', path: '/meetings', handler: 'meetings', auth: true },
  { method: 'GET', path: '/oauth/calendly/callback', handler: 'oauth-callback', auth: false },
  { method: 'POST', path: '/webhooks/calendly/{hookKey}', handler: 'webhook', auth: false },
  { method: 'GET', path: '/health', handler: 'ping', auth: false },
];

/** Lambdas that are not behind the HTTP API. */
export const BACKGROUND_HANDLERS = ['sync-worker', 'health-scheduler', 'health-worker'] as const;
export type BackgroundHandlerName = (typeof BACKGROUND_HANDLERS)[number];
