import { makeMeetingsHandler } from '../edge/meetings.js';
import { meetingsDeps } from '../wiring/meetings.js';

/** GET /meetings */
export const handler = makeMeetingsHandler(meetingsDeps);
