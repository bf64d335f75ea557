/**
 * What a write path does with a sequence of deliveries, as the tests of the event feed need it:
 * merge each into the meeting and collect the Meeting Changed events that write would publish.
 */
import { mergeMeeting, type MeetingState, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { meetingChangeEvents, type MeetingChangedEvent } from '../../functions/domain/meeting-events.js';

export function changeEventsOf(userId: string, updates: MeetingUpdate[]): MeetingChangedEvent[] {
  let state: MeetingState | undefined;
  let version = 0;
  const out: MeetingChangedEvent[] = [];
  for (const u of updates) {
    const after = mergeMeeting(state, u);
    const built = meetingChangeEvents({ userId, before: state, after, lastVersion: version });
    out.push(...built.events);
    state = after;
    version = built.version;
  }
  return out;
}
