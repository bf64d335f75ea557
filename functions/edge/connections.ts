/**
 * HTTP: GET/DELETE /connections/calendly, POST /connections/calendly/connect and
 * /connections/calendly/reconnect. Thin: parse, call the flow, shape the answer.
 */
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { ConnectionDeps } from '../flows/connection-deps.js';
import { beginConnect } from '../flows/connect.js';
import { disconnect } from '../flows/disconnect.js';
import { reconnect } from '../flows/reconnect.js';
import { getStatus } from '../flows/status.js';
import { NotFoundError } from '../domain/errors.js';
import { json, parseJsonBody, userIdOf, withErrors, type HttpEvent, type HttpResult } from './http.js';

/** These routes take no body fields; anything sent must be an empty object. */
const emptyBody = z.object({}).strict();

export function createConnectionsHandler(getDeps: () => Promise<ConnectionDeps>) {
  return (event: HttpEvent, context?: Context): Promise<HttpResult> =>
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
      throw new NotFoundError('not_found', 'No such route.');
    }, context, 'connections');
}
