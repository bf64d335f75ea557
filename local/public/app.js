// Settings page of the local runtime: plain ES module, no framework, no build step.
// Talks to the same HTTP API as production clients (design.md) with a local session token,
// plus the local-only /dev/* routes and, when the built-in Calendly sandbox is in use, its
// controls (which play Calendly's part: bookings, cancellations, broken hooks...).
// Type-checked as JavaScript with JSDoc (tsconfig.browser.json, `npm run typecheck`).
// @ts-check

/**
 * The API's connection status (GET /connections/calendly).
 * @typedef {{ status: 'connected' | 'authorization_required' | 'disconnected', email?: string, calendlyUserUri?: string,
 *   tokenExpiresAt?: string, lastSyncAt?: string, lastError?: string | { message?: string, code?: string, at?: string } | null,
 *   webhook?: { state?: string, uri?: string, lastCheckedAt?: string } | null }} ConnectionStatus
 * @typedef {{ uri: string, name?: string, email?: string, status?: string, rescheduled?: boolean, noShow?: boolean }} Invitee
 * @typedef {{ eventUri: string, name?: string, status?: string, startTime?: string, endTime?: string,
 *   location?: { location?: string, joinUrl?: string, type?: string } | null,
 *   cancellation?: { canceledBy?: string, reason?: string } | null, invitees?: Invitee[] }} Meeting
 * @typedef {{ callbackUrl?: string, state?: string }} SandboxHook
 * @typedef {{ userId: string, eventUri: string, change: string, version: number, meeting?: Meeting }} MeetingChangedDetail
 * @typedef {{ id: string, detailType: string, detail: MeetingChangedDetail, time: string }} BusEvent
 * @typedef {{ text: string, cls: string }} Words
 */

const DEMO_USER_ID = 'demo-user';
const TOKEN_KEY = 'calendly-connector.session';
const POLL_MS = 3000;
const DAY_MS = 24 * 60 * 60 * 1000;
const WINDOW_BACK_DAYS = 30;
const WINDOW_AHEAD_DAYS = 90;
/** The feed keeps this many events on screen. */
const FEED_MAX = 50;

/**
 * The element with this id, checked to be of `type` when given.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} [type]
 * @returns {T}
 */
const $ = (id, type) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  if (type && !(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {T} */ (el);
};

/** What the page knows; rendering reads only this. */
const state = {
  /** @type {string | null} */ token: null,
  /** @type {ConnectionStatus | null | undefined} undefined: not loaded yet; null: the user never connected (404). */
  status: undefined,
  /** @type {Meeting[]} */ meetings: [],
  meetingsKey: '',
  /** @type {{ base: string } | null} null when no sandbox; else the path prefix of the sandbox controls. */
  sandbox: null,
  /** @type {number | null} */ lastUpdated: null,
  offline: false,
  /** @type {string | null} Why the last status request failed (other than 404), in words. */
  statusError: null,
  /** @type {string | null} */ meetingsError: null,
  /** @type {SandboxHook[] | null} The sandbox's webhook subscriptions of the connected Calendly user (null: none to show). */
  sandboxHooks: null,
  /** @type {string} The signed-in user (the session's `sub`): the feed shows only their events. */
  userId: DEMO_USER_ID,
  /** @type {BusEvent[]} Newest first. */
  events: [],
  /** @type {string | null} Where the next read of /dev/events starts (null: from the beginning). */
  eventsCursor: null,
  /** @type {string | null} */ eventsError: null,
};

// ---------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {unknown} [body]
   */
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * @param {Response} res
 * @returns {Promise<any>} the parsed JSON body (null when empty)
 */
async function readJson(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON
 * @param {Record<string, string>} [headers]
 * @returns {Promise<any>} the parsed JSON answer; throws ApiError for a non-2xx status
 */
async function request(method, path, body, headers = {}) {
  /** @type {Record<string, string>} */
  const sent = { accept: 'application/json', ...headers };
  /** @type {RequestInit} */
  const init = { method, headers: sent, cache: 'no-store' };
  if (body !== undefined) {
    sent['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await readJson(res);
  if (!res.ok) {
    throw new ApiError(
      res.status,
      data?.error ?? `http_${res.status}`,
      data?.message ?? `The server answered ${res.status}.`,
      data,
    );
  }
  return data;
}

async function signIn(force = false) {
  if (!force) {
    const kept = sessionStorage.getItem(TOKEN_KEY);
    if (kept) {
      state.token = kept;
      return;
    }
  }
  const { token } = await request('POST', '/dev/session', { userId: DEMO_USER_ID });
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** An authenticated API call; a 401 (the runtime restarted with a new key) mints a new session once. */
/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  if (!state.token) await signIn();
  try {
    return await request(method, path, body, { authorization: `Bearer ${state.token}` });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await signIn(true);
      return request(method, path, body, { authorization: `Bearer ${state.token}` });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// The sandbox controls (only when the runtime uses the built-in Calendly sandbox)

async function detectSandbox() {
  let cfg;
  try {
    cfg = await request('GET', '/dev/config');
  } catch {
    return;
  }
  if (!cfg?.sandbox) return;
  // The runtime passes /__sandbox/* through to its sandbox (same origin, no CORS), where the
  // controls live under sandboxControlsPath. Take the first place that answers the state
  // control; the sandbox's own origin (it allows CORS on its controls) is the fallback.
  const controls = cfg.sandboxControlsPath ?? '/__sandbox';
  const candidates = [controls, `/__sandbox${controls}`];
  if (cfg.sandboxBaseUrl) candidates.push(`${String(cfg.sandboxBaseUrl).replace(/\/+$/, '')}${controls}`);
  for (const base of candidates) {
    try {
      const st = await request('GET', `${base}/state`);
      if (st && typeof st === 'object') {
        state.sandbox = { base };
        $('sandbox-consent', HTMLInputElement).checked = st.autoApprove === false;
        return;
      }
    } catch {
      // Not here; try the next place.
    }
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
function sandboxCall(method, path, body) {
  if (!state.sandbox) throw new Error('The Calendly sandbox is not in use.');
  return request(method, `${state.sandbox.base}${path}`, body);
}

// The sandbox's JSON controls (sandbox/index.ts, under /__sandbox on the sandbox's own origin).
const sandbox = {
  /** @param {{ userUri: string, name: string, invitees: { email: string, name?: string }[], startTime: string, durationMin: number }} input */
  book: (input) => sandboxCall('POST', '/book', input),
  /** @type {(eventUri: string, reason: string) => Promise<any>} */
  cancel: (eventUri, reason) => sandboxCall('POST', '/cancel', { uri: eventUri, reason }),
  /** @type {(inviteeUri: string, newStartTime: string) => Promise<any>} */
  reschedule: (inviteeUri, newStartTime) => sandboxCall('POST', '/reschedule', { inviteeUri, newStartTime }),
  /** @type {(inviteeUri: string) => Promise<any>} */
  markNoShow: (inviteeUri) => sandboxCall('POST', '/no-show', { inviteeUri }),
  /** @type {(inviteeUri: string) => Promise<any>} */
  unmarkNoShow: (inviteeUri) => sandboxCall('POST', '/no-show/delete', { inviteeUri }),
  /** @type {(userUri: string) => Promise<any>} */
  expireTokens: (userUri) => sandboxCall('POST', '/tokens/expire', { userUri }),
  /** @type {(userUri: string) => Promise<any>} */
  revokeTokens: (userUri) => sandboxCall('POST', '/tokens/revoke', { userUri }),
  /** @type {(uri: string) => Promise<any>} */
  disableWebhook: (uri) => sandboxCall('POST', '/webhooks/disable', { uri }),
};

// ---------------------------------------------------------------------------------------
// Words

/** @type {Record<string, { badge: string, text: string } | undefined>} */
const STATUS_WORDS = {
  connected: { badge: 'Connected', text: 'Connected. Your meetings stay up to date.' },
  authorization_required: {
    badge: 'Needs permission',
    text: 'Calendly needs your permission again. Reconnect to continue.',
  },
  disconnected: { badge: 'Disconnected', text: 'Disconnected. We no longer receive updates from Calendly.' },
  none: { badge: 'Not connected', text: 'Not connected yet.' },
};

/** @type {Record<string, string | undefined>} */
const OAUTH_REASONS = {
  access_denied: 'You chose not to give access on Calendly’s consent page.',
  invalid_state: 'The sign-in link was not recognised. Please start again with Connect.',
  expired_state: 'The sign-in link expired before you came back. Please start again with Connect.',
  state_used: 'That sign-in link was already used. Please start again with Connect.',
  exchange_failed: 'Calendly did not accept the sign-in code. Please try again.',
  invalid_request: 'Calendly sent back an incomplete answer. Please try again.',
  server_error: 'Calendly had a problem. Please try again in a moment.',
  temporarily_unavailable: 'Calendly is temporarily unavailable. Please try again in a moment.',
};

/** @param {string | null} reason */
function oauthReasonWords(reason) {
  return (reason ? OAUTH_REASONS[reason] : undefined) ?? `Calendly could not be connected (reason: ${reason || 'unknown'}).`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
});
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });

/**
 * @param {string | null | undefined} iso
 * @returns {number | null}
 */
function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** @param {number} ms */
function relative(ms) {
  const diff = ms - Date.now();
  const abs = Math.abs(diff);
  let words;
  if (abs < 45_000) return diff >= 0 ? 'in a few seconds' : 'just now';
  if (abs < 90 * 60_000) words = `${Math.round(abs / 60_000)} min`;
  else if (abs < 36 * 3600_000) {
    const minutes = Math.round(abs / 60_000);
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    words = m ? `${h} h ${m} min` : `${h} h`;
  } else words = `${Math.round(abs / DAY_MS)} days`;
  return diff >= 0 ? `in ${words}` : `${words} ago`;
}

/** @param {string | undefined} iso */
function when(iso, never = 'Never') {
  const t = parseTime(iso);
  if (t === null) return never;
  return `${dateFmt.format(t)} (${relative(t)})`;
}

/** @param {string | undefined} iso */
function tokenWords(iso) {
  const t = parseTime(iso);
  if (t === null) return 'None';
  return t > Date.now()
    ? `Valid, expires ${dateFmt.format(t)} (${relative(t)})`
    : `Expired ${relative(t)}; renewed automatically on next use`;
}

/**
 * @param {ConnectionStatus['webhook']} webhook
 * @param {boolean} needsAuth
 * @returns {Words}
 */
function webhookWords(webhook, needsAuth) {
  const s = webhook?.state ?? null;
  const repair = needsAuth ? 'repaired once you authorize again' : 'the health check repairs it';
  if (s === 'active') return { text: 'Active', cls: 'good' };
  if (s === 'disabled') return { text: `Disabled at Calendly; ${repair}`, cls: 'bad' };
  if (s === 'missing') return { text: `Missing at Calendly; ${repair}`, cls: 'bad' };
  if (s === null) return { text: 'None', cls: '' };
  return { text: String(s), cls: '' };
}

/** @param {ConnectionStatus['lastError']} lastError */
function errorWords(lastError) {
  if (!lastError) return 'None';
  if (typeof lastError === 'string') return lastError;
  const msg = lastError.message || lastError.code || 'An error';
  const at = parseTime(lastError.at);
  return at === null ? msg : `${msg} (${relative(at)})`;
}

/** @param {{ durationMs?: unknown, processed?: unknown, failed?: unknown } | null | undefined} summary */
function summaryWords(summary) {
  if (!summary || typeof summary !== 'object') return '';
  const parts = [];
  if (typeof summary.durationMs === 'number') parts.push(`in ${(summary.durationMs / 1000).toFixed(1)} s`);
  if (typeof summary.processed === 'number') parts.push(`${summary.processed} ${summary.processed === 1 ? 'job' : 'jobs'} done`);
  if (typeof summary.failed === 'number' && summary.failed > 0) parts.push(`${summary.failed} failed and will be retried`);
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** What the sandbox says about our webhook subscriptions: Calendly's side of the story. */
/**
 * @param {SandboxHook[] | null} hooks
 * @returns {Words}
 */
function calendlySideWords(hooks) {
  if (!Array.isArray(hooks)) return { text: '—', cls: '' };
  const ours = hooks.filter((h) => String(h.callbackUrl ?? '').startsWith(window.location.origin));
  if (ours.length === 0) return { text: 'no webhook subscription points at us.', cls: 'bad' };
  const active = ours.filter((h) => h.state === 'active').length;
  const other = ours.length - active;
  if (ours.length === 1) {
    return active ? { text: 'our webhook subscription is active.', cls: 'good' } : { text: `our webhook subscription is ${ours[0]?.state}: Calendly sends us nothing.`, cls: 'bad' };
  }
  return { text: `${ours.length} webhook subscriptions point at us: ${active} active, ${other} not.`, cls: active === 1 ? 'good' : 'bad' };
}

// ---------------------------------------------------------------------------------------
// Rendering

/**
 * @param {'success' | 'error' | 'info'} kind
 * @param {string} text
 * @param {{ href: string, text: string }} [link]
 */
function flash(kind, text, link) {
  const p = document.createElement('p');
  p.id = 'flash';
  p.className = `notice notice-${kind}`;
  p.textContent = text;
  if (link) {
    const a = document.createElement('a');
    a.href = link.href;
    a.textContent = link.text;
    p.append(' ', a);
  }
  $('flash-region').replaceChildren(p);
}

/**
 * @param {string} id
 * @param {string} text
 */
function setText(id, text, cls = '') {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
  el.className = cls;
}

function renderStatus() {
  const s = state.status;
  /** @type {string | undefined} (a status the page does not know yet is shown as it is) */
  const kind = s === undefined ? 'unknown' : s === null ? 'none' : s.status;
  let words = STATUS_WORDS[kind ?? ''] ?? { badge: kind ?? 'Loading…', text: 'Loading…' };
  if (s === undefined && state.statusError) {
    words = { badge: 'Unknown', text: `The status could not be loaded: ${state.statusError}` };
  }
  const badge = $('status-badge');
  badge.textContent = words.badge;
  badge.className = `badge badge-${kind}`;
  setText('f-status', words.text);

  const live = s && s.status !== 'disconnected' ? s : null;
  setText('f-email', live?.email ?? (s?.email ? `${s.email} (previously)` : '—'));
  const needsAuth = s?.status === 'authorization_required';
  setText('f-token', needsAuth ? 'Refused by Calendly; authorize again' : live ? tokenWords(live.tokenExpiresAt) : '—', needsAuth ? 'bad' : '');
  const hook = live ? webhookWords(live.webhook, needsAuth) : { text: '—', cls: '' };
  setText('f-webhook', hook.text, hook.cls);
  setText('f-checked', live ? when(live.webhook?.lastCheckedAt) : '—');
  setText('f-sync', s ? when(s.lastSyncAt) : '—');
  setText('f-error', s ? errorWords(s.lastError) : 'None', s?.lastError ? 'bad' : '');

  const hasConnection = s && (s.status === 'connected' || s.status === 'authorization_required');
  // Needing permission again is Reconnect's job (it answers with the authorize link).
  $('btn-connect').hidden = Boolean(hasConnection);
  $('btn-reconnect').hidden = !hasConnection;
  $('btn-reconnect').classList.toggle('btn-primary', needsAuth);
  $('btn-disconnect').hidden = !hasConnection;
  if (s && s.status === 'connected') $('authorize-offer').hidden = true;
}

function renderSandbox() {
  const on = Boolean(state.sandbox);
  $('sandbox-card').hidden = !on;
  for (const el of document.querySelectorAll('.col-actions')) if (el instanceof HTMLElement) el.hidden = !on;
  if (on) {
    const side = state.sandboxHooks === null ? { text: 'not connected, so no webhook to show.', cls: '' } : calendlySideWords(state.sandboxHooks);
    setText('sandbox-hook', side.text, side.cls);
  }
}

/** @param {Meeting} m */
function meetingLabel(m) {
  const t = parseTime(m.startTime);
  return `${m.name ?? 'meeting'}${t === null ? '' : ` on ${dateFmt.format(t)}`}`;
}

/**
 * @param {string} text
 * @param {string} label
 * @param {string} focusKey
 * @param {(button: HTMLButtonElement) => void} onClick
 */
function rowButton(text, label, focusKey, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn btn-small';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.dataset.focusKey = focusKey;
  b.addEventListener('click', () => onClick(b));
  return b;
}

/**
 * @param {string} cls
 * @param {...(Node | string)} children
 */
function cell(cls, ...children) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.append(...children);
  return td;
}

/**
 * @param {string} cls
 * @param {string} text
 */
function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

/** @param {Meeting} m */
function meetingRow(m) {
  const tr = document.createElement('tr');
  if (m.status === 'canceled') tr.className = 'is-canceled';
  const start = parseTime(m.startTime);
  const end = parseTime(m.endTime);

  const time = cell('time', start === null ? 'Unknown time' : dayFmt.format(start));
  if (start !== null) time.append(span('sub', end === null ? timeFmt.format(start) : `${timeFmt.format(start)} – ${timeFmt.format(end)}`));

  const title = cell('title', span('title-text', m.name ?? 'Untitled meeting'));
  const loc = m.location?.location ?? m.location?.joinUrl ?? m.location?.type;
  if (loc) title.append(span('sub', loc));

  const list = document.createElement('ul');
  list.className = 'invitees';
  const invitees = Array.isArray(m.invitees) ? m.invitees : [];
  for (const inv of invitees) {
    const li = document.createElement('li');
    li.textContent = inv.name || inv.email || 'Unknown invitee';
    if (inv.name && inv.email) li.append(span('sub', inv.email));
    if (inv.status === 'canceled') li.append(span('sub', inv.rescheduled ? 'Rescheduled' : 'Canceled'));
    list.append(li);
  }
  const inviteesCell = cell('', invitees.length ? list : 'None');

  const statusCell = cell('', span(`pill pill-${m.status === 'canceled' ? 'canceled' : 'active'}`, m.status === 'canceled' ? 'Canceled' : 'Active'));
  if (m.status === 'canceled' && m.cancellation) {
    const by = m.cancellation.canceledBy ? `by ${m.cancellation.canceledBy}` : '';
    const why = m.cancellation.reason ? `: ${m.cancellation.reason}` : '';
    if (by || why) statusCell.append(span('sub', `${by}${why}`));
  }

  const noShows = invitees.filter((i) => i.noShow);
  const noShowCell = cell('', noShows.length ? span('pill pill-noshow', 'Yes') : 'No');
  if (noShows.length) noShowCell.append(span('sub', noShows.map((i) => i.name || i.email).join(', ')));

  tr.append(time, title, inviteesCell, statusCell, noShowCell);

  if (state.sandbox) {
    const actions = document.createElement('div');
    actions.className = 'row-actions';
    const label = meetingLabel(m);
    const active = invitees.find((i) => i.status !== 'canceled');
    if (m.status !== 'canceled') {
      actions.append(rowButton('Cancel', `Cancel ${label}`, `cancel:${m.eventUri}`, (b) => doCancel(b, m)));
      if (active) {
        actions.append(rowButton('Reschedule', `Reschedule ${label} to one day later`, `resched:${m.eventUri}`, (b) => doReschedule(b, m, active)));
        actions.append(active.noShow
          ? rowButton('Undo no-show', `Undo no-show for ${active.name || active.email} in ${label}`, `unnoshow:${m.eventUri}`, (b) => doNoShow(b, active, false))
          : rowButton('Mark no-show', `Mark ${active.name || active.email} as no-show in ${label}`, `noshow:${m.eventUri}`, (b) => doNoShow(b, active, true)));
      }
    }
    tr.append(cell('col-actions', actions.childElementCount ? actions : '—'));
  }
  return tr;
}

function renderMeetings() {
  // Re-render only on change, and keep keyboard focus on the same control across it.
  const key = JSON.stringify([state.meetings, Boolean(state.sandbox)]);
  if (key !== state.meetingsKey) {
    state.meetingsKey = key;
    const focused = document.activeElement;
    const focusKey = focused instanceof HTMLElement ? focused.dataset.focusKey : undefined;
    const body = $('meetings-body');
    body.replaceChildren(...state.meetings.map(meetingRow));
    if (focusKey) {
      const again = [...body.querySelectorAll('button')].find((b) => b.dataset.focusKey === focusKey);
      if (again) again.focus();
      else $('meetings-card').focus();
    }
    $('meetings-empty').hidden = state.meetings.length > 0;
    $('meetings-table').hidden = state.meetings.length === 0;
  }
  const updated = state.offline
    ? 'Cannot reach the local service; retrying…'
    : state.meetingsError ? `Meetings could not be loaded: ${state.meetingsError}`
    : state.lastUpdated ? `Updated ${timeFmt.format(state.lastUpdated)} · refreshes every ${POLL_MS / 1000} s` : '';
  setText('meetings-updated', updated, 'muted');
}

const CHANGE_WORDS = /** @type {Record<string, string>} */ ({
  created: 'Booked',
  rescheduled: 'Rescheduled',
  canceled: 'Canceled',
  updated: 'Updated',
  invitee_added: 'Invitee added',
  invitee_canceled: 'Invitee canceled',
  no_show_set: 'Marked as no-show',
  no_show_cleared: 'No-show cleared',
});

/** @param {BusEvent} e */
function eventItem(e) {
  const d = e.detail;
  const li = document.createElement('li');
  li.dataset.change = d.change;
  const title = d.meeting?.name ?? 'Meeting';
  const t = parseTime(e.time);
  li.append(
    span('event-change', CHANGE_WORDS[d.change] ?? d.change),
    ` · ${title}`,
    span('event-meta', `${t === null ? '' : `${timeFmt.format(t)} · `}version ${d.version}`),
  );
  return li;
}

let feedKey = '';
function renderEvents() {
  const key = state.events.map((e) => e.id).join(',');
  if (key !== feedKey) {
    feedKey = key;
    $('events-feed').replaceChildren(...state.events.map(eventItem));
  }
  $('events-empty').hidden = state.events.length > 0;
  setText('events-status', state.eventsError ? `Events could not be loaded: ${state.eventsError}` : '', 'muted');
}

function render() {
  renderStatus();
  renderSandbox();
  renderMeetings();
  renderEvents();
}

// ---------------------------------------------------------------------------------------
// Loading

async function loadStatus() {
  try {
    state.status = await api('GET', '/connections/calendly');
    state.statusError = null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      state.status = null;
      state.statusError = null;
    } else {
      state.statusError = err instanceof ApiError ? err.message : 'Cannot reach the local service.';
      throw err;
    }
  }
}

/** The page's window of meetings, around now. */
function meetingsWindow() {
  const now = Date.now();
  return { from: new Date(now - WINDOW_BACK_DAYS * DAY_MS).toISOString(), to: new Date(now + WINDOW_AHEAD_DAYS * DAY_MS).toISOString() };
}

async function loadMeetings() {
  const { from, to } = meetingsWindow();
  /** @type {Meeting[]} */
  const all = [];
  /** @type {string | undefined} */
  let nextToken;
  for (let page = 0; page < 20; page += 1) {
    const q = new URLSearchParams({ from, to });
    if (nextToken) q.set('nextToken', nextToken);
    const res = await api('GET', `/meetings?${q}`);
    all.push(...(res?.meetings ?? []));
    nextToken = res?.nextToken;
    if (!nextToken) break;
  }
  state.meetings = all;
}

async function loadSandboxHooks() {
  const userUri = state.status && state.status.status !== 'disconnected' ? state.status.calendlyUserUri : null;
  if (!state.sandbox || !userUri) {
    state.sandboxHooks = null;
    return;
  }
  state.sandboxHooks = await sandboxCall('GET', `/webhooks?${new URLSearchParams({ user: userUri })}`);
}

/** @type {Promise<void> | null} */
let refreshing = null;
/** One refresh at a time; callers that arrive meanwhile share it. */
function refresh() {
  if (!refreshing) {
    refreshing = Promise.allSettled([loadStatus().then(() => loadSandboxHooks().catch(() => undefined)), loadMeetings()])
      .then(([st, mt]) => {
        const errors = [st, mt].filter((r) => r.status === 'rejected').map((r) => r.reason);
        state.offline = errors.some((e) => !(e instanceof ApiError));
        state.meetingsError = mt.status === 'rejected' && mt.reason instanceof ApiError ? mt.reason.message : null;
        if (errors.length === 0) state.lastUpdated = Date.now();
      })
      .finally(() => {
        refreshing = null;
        render();
      });
  }
  return refreshing;
}

/** Reads what the local bus got since the last read: the signed-in user's events go on top of the feed. */
async function loadEvents() {
  for (let page = 0; page < 20; page += 1) {
    const q = new URLSearchParams(state.eventsCursor === null ? {} : { after: state.eventsCursor });
    let res;
    try {
      res = await request('GET', `/dev/events?${q}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_cursor') {
        // The runtime restarted: its log starts again, and so does the feed.
        state.eventsCursor = null;
        state.events = [];
        continue;
      }
      throw err;
    }
    /** @type {BusEvent[]} */
    const fresh = (res?.events ?? []).filter((/** @type {BusEvent} */ e) => e.detail?.userId === state.userId);
    state.events = [...fresh.reverse(), ...state.events].slice(0, FEED_MAX);
    if (typeof res?.cursor === 'string') state.eventsCursor = res.cursor;
    // A short page is the end of the log (the route's default page is 100).
    if ((res?.events ?? []).length < 100) break;
  }
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let eventsTimer;
function pollEvents() {
  clearTimeout(eventsTimer);
  eventsTimer = setTimeout(async () => {
    if (!document.hidden) {
      try {
        await loadEvents();
        state.eventsError = null;
      } catch (err) {
        state.eventsError = err instanceof ApiError ? err.message : 'Cannot reach the local service.';
      }
      renderEvents();
    }
    pollEvents();
  }, POLL_MS);
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let pollTimer;
function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => {
    if (!document.hidden) await refresh();
    schedulePoll();
  }, POLL_MS);
}

// ---------------------------------------------------------------------------------------
// Actions

/** Runs an action with its button marked busy; failures become a message in words. */
/**
 * @param {HTMLButtonElement} button
 * @param {string} busyText
 * @param {() => Promise<void>} fn
 */
async function busy(button, busyText, fn) {
  const original = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (busyText) button.textContent = busyText;
  try {
    await fn();
  } catch (err) {
    const msg = err instanceof ApiError ? err.message : 'Cannot reach the local service. Is it still running?';
    flash('error', msg);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = original;
  }
}

/**
 * @param {string} url
 * @param {string} text
 */
function offerAuthorize(url, text) {
  const link = $('authorize-link', HTMLAnchorElement);
  link.href = url;
  link.textContent = text;
  $('authorize-offer').hidden = false;
}

/** @param {HTMLButtonElement} button */
async function doConnect(button) {
  await busy(button, 'Opening Calendly…', async () => {
    const { authorizeUrl } = await api('POST', '/connections/calendly/connect');
    window.location.assign(authorizeUrl);
  });
}

/** @param {HTMLButtonElement} button */
async function doReconnect(button) {
  await busy(button, 'Reconnecting…', async () => {
    const res = await api('POST', '/connections/calendly/reconnect');
    if (res.status === 'authorization_required') {
      flash('error', 'Calendly needs your permission again before we can reconnect.');
      offerAuthorize(res.authorizeUrl, 'Authorize with Calendly');
      await refresh();
      return;
    }
    state.status = res;
    const hook = res.webhook?.state;
    flash('success', `Reconnected. Your Calendly connection is healthy${hook === 'active' ? ' and the webhook is active' : hook ? `; the webhook is ${hook}` : ''}.`);
    await refresh();
  });
}

/** @param {HTMLButtonElement} button */
function doDisconnect(button) {
  const dialog = $('confirm-disconnect', HTMLDialogElement);
  dialog.returnValue = '';
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'confirm') {
      button.focus();
      return;
    }
    await busy(button, 'Disconnecting…', async () => {
      await api('DELETE', '/connections/calendly');
      flash('success', 'Calendly is disconnected. Connect again at any time.');
      $('authorize-offer').hidden = true;
      await refresh();
    });
    $('btn-connect').focus();
  }, { once: true });
  dialog.showModal();
}

function bookInputFromForm() {
  const form = $('book-form', HTMLFormElement);
  const fd = new FormData(form);
  const start = Date.parse(String(fd.get('start')));
  const duration = Number(fd.get('duration'));
  const email = String(fd.get('inviteeEmail')).trim();
  const name = String(fd.get('inviteeName')).trim();
  const title = String(fd.get('title')).trim();
  if (!title) throw new ApiError(400, 'invalid', 'Give the meeting a title.');
  if (!email || !email.includes('@')) throw new ApiError(400, 'invalid', 'Enter the invitee’s email address.');
  if (Number.isNaN(start)) throw new ApiError(400, 'invalid', 'Choose when the meeting starts.');
  if (!Number.isFinite(duration) || duration < 5) throw new ApiError(400, 'invalid', 'The meeting must last at least 5 minutes.');
  return { name: title, invitees: [{ email, name: name || undefined }], startTime: new Date(start).toISOString(), durationMin: duration };
}

/** @param {{ deliveries?: { ok?: boolean, status?: number }[] } | null | undefined} res */
function deliveryWords(res) {
  const ds = Array.isArray(res?.deliveries) ? res.deliveries : [];
  if (ds.length === 0) return ' No webhook delivery was sent (no active webhook).';
  const ok = ds.filter((d) => d.ok).length;
  return ok === ds.length
    ? ` Calendly delivered ${ds.length === 1 ? 'the webhook' : `${ds.length} webhooks`} to us.`
    : ` ${ds.length - ok} of ${ds.length} webhook deliveries failed (status ${ds.map((d) => d.status ?? 'no answer').join(', ')}).`;
}

function requireConnectedUserUri() {
  const uri = state.status?.calendlyUserUri;
  if (!uri || state.status?.status === 'disconnected') {
    throw new ApiError(400, 'not_connected', 'Connect Calendly first: the sandbox acts on the connected Calendly account.');
  }
  return uri;
}

/** @param {SubmitEvent} event */
async function doBook(event) {
  event.preventDefault();
  const button = $('btn-book', HTMLButtonElement);
  await busy(button, 'Booking…', async () => {
    const input = { userUri: requireConnectedUserUri(), ...bookInputFromForm() };
    const res = await sandbox.book(input);
    const [invitee] = input.invitees;
    flash('success', `Booked “${input.name}” with ${invitee?.name ?? invitee?.email}.${deliveryWords(res)}`);
    await refresh();
  });
}

/**
 * @param {HTMLButtonElement} button
 * @param {Meeting} m
 */
async function doCancel(button, m) {
  await busy(button, 'Canceling…', async () => {
    const res = await sandbox.cancel(m.eventUri, 'Canceled from the sandbox controls');
    flash('success', `Canceled “${m.name ?? 'meeting'}”.${deliveryWords(res)}`);
    await refresh();
  });
}

/**
 * @param {HTMLButtonElement} button
 * @param {Meeting} m
 * @param {Invitee} invitee
 */
async function doReschedule(button, m, invitee) {
  await busy(button, 'Rescheduling…', async () => {
    const start = parseTime(m.startTime) ?? Date.now();
    const res = await sandbox.reschedule(invitee.uri, new Date(start + DAY_MS).toISOString());
    flash('success', `Rescheduled “${m.name ?? 'meeting'}” to one day later.${deliveryWords(res)}`);
    await refresh();
  });
}

/**
 * @param {HTMLButtonElement} button
 * @param {Invitee} invitee
 * @param {boolean} on
 */
async function doNoShow(button, invitee, on) {
  await busy(button, on ? 'Marking…' : 'Undoing…', async () => {
    const res = on ? await sandbox.markNoShow(invitee.uri) : await sandbox.unmarkNoShow(invitee.uri);
    flash('success', `${on ? 'Marked' : 'Unmarked'} ${invitee.name || invitee.email} as no-show.${deliveryWords(res)}`);
    await refresh();
  });
}

/** @param {HTMLButtonElement} button */
async function doExpire(button) {
  await busy(button, 'Expiring…', async () => {
    await sandbox.expireTokens(requireConnectedUserUri());
    flash('info', 'The sandbox expired the access token. The next call refreshes it; run a health check to see it renewed.');
    await refresh();
  });
}

/** @param {HTMLButtonElement} button */
async function doRevoke(button) {
  await busy(button, 'Revoking…', async () => {
    await sandbox.revokeTokens(requireConnectedUserUri());
    flash('info', 'Calendly revoked every token of this account (as after a password change). Reconnect asks for your permission again.');
    await refresh();
  });
}

/** @param {HTMLButtonElement} button */
async function doDisableHook(button) {
  await busy(button, 'Disabling…', async () => {
    requireConnectedUserUri();
    const uri = state.status?.webhook?.uri;
    if (!uri) throw new ApiError(400, 'no_webhook', 'There is no webhook to disable.');
    await sandbox.disableWebhook(uri);
    flash('info', 'Calendly disabled the webhook. We notice on the next health check and repair it; run one now.');
    await refresh();
  });
}

/** @param {HTMLInputElement} input */
async function doConsentToggle(input) {
  const show = input.checked;
  input.disabled = true;
  try {
    const res = await sandboxCall('POST', '/settings', { autoApprove: !show });
    input.checked = res?.autoApprove === false;
    flash('info', input.checked
      ? 'Connect now shows Calendly’s consent page (Allow or Deny).'
      : 'Connect now skips the consent page: the sandbox approves at once.');
  } catch (err) {
    input.checked = !show;
    flash('error', err instanceof ApiError ? err.message : 'Cannot reach the Calendly sandbox.');
  } finally {
    input.disabled = false;
  }
}

/** @param {HTMLButtonElement} button */
async function doHealthCheck(button) {
  await busy(button, 'Checking…', async () => {
    const summary = await request('POST', '/dev/health-check');
    await refresh();
    const hook = state.status?.webhook?.state;
    const tail = hook === 'active' ? ' The webhook is active.' : hook ? ` The webhook is ${hook}.` : '';
    flash('success', `Health check finished${summaryWords(summary)}.${tail}`);
  });
}

// ---------------------------------------------------------------------------------------
// Start

function defaultStart() {
  // Tomorrow at 10:00 local time: a plausible meeting, inside the page's window.
  const d = new Date(Date.now() + DAY_MS);
  d.setHours(10, 0, 0, 0);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The OAuth callback sends the browser back here with ?calendly=connected|error&reason=. */
function showOAuthResult() {
  const params = new URLSearchParams(window.location.search);
  const result = params.get('calendly');
  if (!result) return;
  if (result === 'connected') flash('success', 'Calendly is connected. Your meetings will appear below.');
  else flash('error', `Calendly was not connected. ${oauthReasonWords(params.get('reason'))}`);
  // So a reload does not show the message again.
  history.replaceState(null, '', window.location.pathname);
}

function showWho() {
  let sub = DEMO_USER_ID;
  try {
    const part = state.token?.split('.')[1] ?? '';
    const payload = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    if (typeof payload.sub === 'string') sub = payload.sub;
  } catch {
    // Not a JWT we can read: the id we asked for is the best we know.
  }
  state.userId = sub;
  const who = $('who');
  who.replaceChildren('Signed in as ', Object.assign(document.createElement('strong'), { textContent: sub }), ' (local demo session)');
}

async function main() {
  /**
   * @param {string} id
   * @param {(button: HTMLButtonElement) => unknown} action
   */
  const onClick = (id, action) => {
    const button = $(id, HTMLButtonElement);
    button.addEventListener('click', () => action(button));
  };
  onClick('btn-connect', doConnect);
  onClick('btn-reconnect', doReconnect);
  onClick('btn-disconnect', doDisconnect);
  $('book-form', HTMLFormElement).addEventListener('submit', doBook);
  onClick('btn-expire', doExpire);
  onClick('btn-revoke', doRevoke);
  onClick('btn-disable-hook', doDisableHook);
  onClick('btn-health', doHealthCheck);
  const consent = $('sandbox-consent', HTMLInputElement);
  consent.addEventListener('change', () => doConsentToggle(consent));
  $('book-start', HTMLInputElement).value = defaultStart();
  const days = `${WINDOW_BACK_DAYS} days back to ${WINDOW_AHEAD_DAYS} days ahead`;
  $('meetings-window').textContent = `Meetings from ${days}, earliest first. Updates arrive by webhook.`;

  showOAuthResult();
  try {
    await signIn();
    showWho();
  } catch {
    $('who').textContent = 'Not signed in: the local service did not answer.';
  }
  await detectSandbox();
  await Promise.all([refresh(), loadEvents().catch(() => undefined)]);
  renderEvents();
  document.documentElement.dataset.ready = 'true';
  schedulePoll();
  pollEvents();
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
}

main();
