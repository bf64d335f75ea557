/**
 * GET /meetings — thin: the caller (JWT sub) and the query string in, a page of meetings out.
 */
import type { Context } from 'aws-lambda';
import { listMeetings, type ListMeetingsDeps } from '../flows/list-meetings.js';
import { json, userIdOf, withErrors, type HttpEvent, type HttpResult } from './http.js';

export function makeMeetingsHandler(deps: ListMeetingsDeps | (() => ListMeetingsDeps)) {
  return async (event: HttpEvent, context?: Context): Promise<HttpResult> =>
    withErrors(event, async () => {
      const userId = userIdOf(event);
      const resolved = typeof deps === 'function' ? deps() : deps;
      const page = await listMeetings(resolved, userId, event.queryStringParameters);
      return json(200, page);
    }, context, 'meetings');
}
