/**
 * Composition root of the meetings Lambda: the list over the meetings table, gated by the
 * connection's status (no secret, no Calendly).
 */
import type { ListMeetingsDeps } from '../flows/list-meetings.js';
import { createConnectionStatusReader } from '../store/connection-status.js';
import { createMeetingStore } from '../store/meetings/index.js';
import { readTables } from './env.js';
import { lazy } from './lazy.js';
import { dynamo } from './services.js';

export const meetingsDeps = lazy((): ListMeetingsDeps => {
  const t = readTables(['meetings', 'connections']);
  const { doc } = dynamo();
  return { meetings: createMeetingStore(doc, t.meetings), connectionStatus: createConnectionStatusReader(doc, t.connections) };
});
