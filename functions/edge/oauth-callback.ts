/**
 * HTTP: GET /oauth/calendly/callback?code=&state= (or ?error=&state=). Always a 302 to
 * APP_REDIRECT_URL with calendly=connected or calendly=error&reason=<code>; the query is read
 * defensively (a browser can send anything), and nothing about it is echoed or logged.
 */
import type { Context } from 'aws-lambda';
import type { ConnectionDeps } from '../flows/connection-deps.js';
import { completeConnect } from '../flows/connect.js';
import { logger } from '../shared/logger.js';
import { countHandledFailure } from '../shared/metrics.js';
import { redirect, withErrors, type HttpEvent, type HttpResult } from './http.js';

const param = (event: HttpEvent, name: string): string | undefined => {
  const v = event.queryStringParameters?.[name];
  // Bound what we pass on: states and codes are short opaque strings.
  return typeof v === 'string' && v.length > 0 && v.length <= 2048 ? v : undefined;
};

export function createOAuthCallbackHandler(getDeps: () => Promise<ConnectionDeps>) {
  return (event: HttpEvent, context?: Context): Promise<HttpResult> =>
    withErrors(event, async () => {
      const deps = await getDeps();
      try {
        const answer = await completeConnect(deps, { code: param(event, 'code'), state: param(event, 'state'), error: param(event, 'error') });
        return redirect(answer.location);
      } catch (e) {
        // The browser is mid-redirect: send it back to the app with a reason, never a JSON 500.
        logger.error('oauth callback failed', { error: e });
        countHandledFailure();
        const url = new URL(deps.appRedirectUrl);
        url.searchParams.set('calendly', 'error');
        url.searchParams.set('reason', 'temporarily_unavailable');
        return redirect(url.toString());
      }
    }, context, 'oauth-callback');
}
