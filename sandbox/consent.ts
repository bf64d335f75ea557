/**
 * The sandbox's consent page: what a person sees at /oauth/authorize when auto-approve is off.
 * Plain HTML, no scripts or external assets; the form posts back to /oauth/authorize.
 */
import type { SandboxUser } from './types.js';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** What each scope lets the app do, in the words a person deciding would want. */
const SCOPE_TEXT: Record<string, string> = {
  'users:read': 'Read your profile (name, email, organization)',
  'scheduled_events:read': 'Read your scheduled events and their invitees',
  'webhooks:read': 'See its webhook subscriptions',
  'webhooks:write': 'Create and delete webhook subscriptions',
};

function scopeList(scopes: string[], unscoped: 'none' | 'all'): string {
  if (!scopes.length) {
    return unscoped === 'all'
      ? '<p>This app asked for no specific permissions; as an older app it gets full access to your account.</p>'
      : '<p>This app asked for no permissions, so it will get no access to your Calendly data.</p>';
  }
  const items = scopes
    .map((sc, i) => {
      const id = `scope_${i}`;
      const text = SCOPE_TEXT[sc] ?? sc;
      return `<li><input type="checkbox" id="${id}" name="grant" value="${esc(sc)}" checked> <label class="scope" for="${id}">${esc(text)} <code>${esc(sc)}</code></label></li>`;
    })
    .join('\n          ');
  return `<fieldset>
        <legend>It asks to (untick what you do not allow)</legend>
        <input type="hidden" name="scope_choice" value="1">
        <ul class="scopes">
          ${items}
        </ul>
      </fieldset>`;
}

export function renderConsentPage(input: { appName: string; params: URLSearchParams; users: SandboxUser[]; selected: string | null; scopes: string[]; unscoped: 'none' | 'all' }): string {
  const hidden = [...input.params.entries()]
    .filter(([k]) => k !== 'sandbox_user')
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('\n      ');
  const options = input.users
    .map((u) => `<option value="${esc(u.email)}"${u.email === input.selected ? ' selected' : ''}>${esc(u.name)} (${esc(u.email)})</option>`)
    .join('\n          ');
  const redirect = input.params.get('redirect_uri') ?? '';
  const redirectHost = URL.canParse(redirect) ? new URL(redirect).host : '';
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Authorize ${esc(input.appName)} — Calendly sandbox</title>
  <style>
    body { font-family: system-ui, sans-serif; background: #f4f6fa; color: #1a1a1a; margin: 0; }
    main { max-width: 28rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
    h1 { font-size: 1.3rem; margin-top: 0; }
    label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
    select { width: 100%; padding: .5rem; font-size: 1rem; }
    .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
    button { flex: 1; padding: .7rem; font-size: 1rem; border-radius: 6px; border: 2px solid #0047ab; cursor: pointer; }
    button[value=allow] { background: #0047ab; color: #fff; }
    button[value=deny] { background: #fff; color: #0047ab; }
    button:focus-visible, select:focus-visible { outline: 3px solid #ff9f1c; outline-offset: 2px; }
    .note { font-size: .85rem; color: #555; }
    fieldset { border: 1px solid #ccd; border-radius: 6px; margin: 1rem 0 0; }
    legend { font-weight: 600; padding: 0 .3rem; }
    ul.scopes { list-style: none; padding: 0; margin: .3rem 0; }
    ul.scopes li { margin: .4rem 0; }
    label.scope { display: inline; font-weight: normal; margin: 0; }
    input[type=checkbox]:focus-visible { outline: 3px solid #ff9f1c; outline-offset: 2px; }
  </style>
</head>
<body>
  <main>
    <h1 id="title">${esc(input.appName)} wants to access your Calendly account</h1>
    <p class="note">After you decide you will be sent back to <strong>${esc(redirectHost || 'the application')}</strong>.</p>
    <form method="post" action="/oauth/authorize" aria-labelledby="title">
      ${hidden}
      ${scopeList(input.scopes, input.unscoped)}
      <label for="sandbox_user">Sign in as</label>
      <select id="sandbox_user" name="sandbox_user">
          ${options}
      </select>
      <div class="actions">
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny">Deny</button>
      </div>
    </form>
    <p class="note">This is the Calendly sandbox, not calendly.com.</p>
  </main>
</body>
</html>`;
}
