/**
 * Behaviours Calendly does not document (or documents ambiguously). Each knob plays one
 * reading; the default is the reading we consider most likely. Change them at start
 * (`startSandbox({ quirks })`) or at runtime (`sandbox.setQuirks()`).
 */
export interface SandboxQuirks {
  /** Echo `state` on the authorize redirect (standard OAuth; not in Calendly's param table). */
  echoState: boolean;
  /** Accept client_id/client_secret in the token request body as well as HTTP Basic. */
  acceptBodyClientAuth: boolean;
  /** Revoking an access or refresh token also revokes its sibling from the same grant. */
  revokePair: boolean;
  /**
   * What a grant that requested no scope gets. 'none' (a newly created app, the default): no
   * API access at all. 'all': an app created before scopes existed, which gets everything and
   * whose token answers say `scope: "default"`.
   */
  unscopedGrant: 'none' | 'all';
  /** Text to put in the token/introspect `scope` field instead of the granted list (access is unaffected). */
  tokenScope?: string;
  /**
   * The signature `t` of a retried delivery (undocumented). 'first' (default): every retry keeps
   * the first attempt's `t`, so a receiver with a short tolerance refuses retries, the harsher
   * reading. 'fresh': each retry is re-signed with the time it is sent.
   */
  retrySignatureTime: 'first' | 'fresh';
  /**
   * `GET /scheduled_events` with `user` but no `organization`: allowed for your own events
   * (false, the documented default), or 403 "Please also specify organization…" for everyone
   * (true); then `organization` + your own `user` works without admin.
   */
  eventsNeedOrganization: boolean;
  /** After a refresh the previous access token is revoked at once (false) or keeps working until it expires (true). */
  keepOldAccessToken: boolean;
  /** HTTP status of a successful webhook subscription create (200 or 201). */
  webhookCreateStatus: 200 | 201;
  /** Status of a successful webhook subscription delete (204 per 3rd-party notes, or 200). */
  webhookDeleteStatus: 200 | 204;
  /** Include `signing_key` in the create response (contradicts the documented schema). */
  returnSigningKey: boolean;
  /** invitee_no_show.* payload: the invitee resource (with no_show) or the InviteeNoShow resource. */
  noShowPayload: 'invitee' | 'no_show';
  /** Embed `scheduled_event` in invitee webhook payloads (newer shape) or not (2020 shape). */
  embedScheduledEvent: boolean;
  /** Which reschedule delivery goes first (order is not guaranteed by Calendly). */
  rescheduleOrder: 'canceled-first' | 'created-first';
  /** 401 message for an expired (rather than unknown/revoked) token. */
  expiredTokenMessage: string;
  /** Also send `Retry-After` (seconds) on 429s. */
  retryAfterHeader: boolean;
  /** Sign deliveries with both the app key and the hook key (two v1= values). */
  dualSignature: boolean;
  /** 409 when a subscription with the same callback URL exists for the same user and scope. */
  conflictOnDuplicate: boolean;
}

export const DEFAULT_QUIRKS: SandboxQuirks = {
  echoState: true,
  acceptBodyClientAuth: true,
  revokePair: true,
  unscopedGrant: 'none',
  retrySignatureTime: 'first',
  eventsNeedOrganization: false,
  keepOldAccessToken: false,
  webhookCreateStatus: 201,
  webhookDeleteStatus: 204,
  returnSigningKey: false,
  noShowPayload: 'invitee',
  embedScheduledEvent: true,
  rescheduleOrder: 'canceled-first',
  expiredTokenMessage: 'The access token is invalid',
  retryAfterHeader: false,
  dualSignature: false,
  conflictOnDuplicate: true,
};
