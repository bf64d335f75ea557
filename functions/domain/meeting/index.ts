/** The meeting model: loose inputs, the normal-form state, its forward-only merge and the API view. */
export type * from './inputs.js';
export type * from './state.js';
export { canonical, compareInstants, normalizeIso } from './order.js';
export { eventIdOf, toEventRegister, toInviteeRegister } from './registers.js';
export { mergeMeeting, meetingContent, sameMeeting } from './merge.js';
export { calendlyUpdatedAt, meetingStatus, toApiMeeting, type ApiInvitee, type ApiMeeting } from './view.js';
