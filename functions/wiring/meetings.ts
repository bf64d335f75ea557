/** Composition root of the meetings Lambda: the list over the meetings table (no secret, no Calendly). */
import type { ListMeetingsDeps } from '../flows/list-meetings.js';
import { createMeetingStore } from '../store/meetings/index.js';
import { readTables } from './env.js';
import { lazy } from './lazy.js';
import { dynamo } from './services.js';

export const meetingsDeps = lazy((): ListMeetingsDeps => ({ meetings: createMeetingStore(dynamo().doc, readTables(['meetings']).meetings) }));
