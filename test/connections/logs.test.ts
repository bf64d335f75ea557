import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CalendlyPort, TokenSet } from '../../functions/calendly/port.js';
import { beginConnect, completeConnect } from '../../functions/flows/connect.js';
import { disconnect } from '../../functions/flows/disconnect.js';
import { reconnect } from '../../functions/flows/reconnect.js';
import { createSecretBox } from '../../functions/shared/crypto.js';
import { logSinks } from '../../functions/shared/logger.js';
import { BOX_KEY, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

describe('no secret in any log line over connect → reconnect (with refresh and repair) → disconnect', () => {
  let h: Harness;
  const lines: string[] = [];
  const sink = (line: Record<string, unknown>) => lines.push(JSON.stringify(line));
  beforeAll(async () => {
    h = await startHarness();
    logSinks.push(sink);
  });
  afterAll(async () => {
    logSinks.splice(logSinks.indexOf(sink), 1);
    await h.close();
  });

  it('captures the flow logs and finds none of the tokens, signing keys, verifier or client secret in them', async () => {
    const issued: TokenSet[] = [];
    const base = h.deps().calendly;
    const calendly: CalendlyPort = {
      ...base,
      authorizeUrl: (i) => base.authorizeUrl(i),
      exchangeCode: async (i) => {
        const t = await base.exchangeCode(i);
        issued.push(t);
        return t;
      },
      refresh: async (rt) => {
        const t = await base.refresh(rt);
        issued.push(t);
        return t;
      },
    };
    const deps = () => h.deps({ calendly });
    const userId = newUserId();
    const email = newEmail();
    const user = h.sandbox.createUser({ email });

    // Connect through OAuth (keeping the PKCE verifier to scan for it).
    const { authorizeUrl } = await beginConnect(deps(), userId);
    const state = new URL(authorizeUrl).searchParams.get('state')!;
    const stateItem = (await h.db.doc.send(new GetCommand({ TableName: h.db.tables.oauthStates, Key: { state } }))).Item!;
    const verifier = createSecretBox(BOX_KEY).open(String(stateItem.codeVerifierSealed), `oauth#${state}`);
    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    const cb = await completeConnect(deps(), { code: back.searchParams.get('code')!, state });
    expect(cb.outcome).toBe('connected');
    const signingKeys = ourHooks(h, user.uri).map((w) => w.signingKey);

    // Reconnect on an expired token with a disabled hook: refresh + create + delete, plus a failing call.
    h.sandbox.disableWebhook(ourHooks(h, user.uri)[0]!.uri);
    h.advance(2 * 3600_000 + 1000);
    expect((await reconnect(deps(), userId)).status).toBe('connected');
    signingKeys.push(...ourHooks(h, user.uri).map((w) => w.signingKey));
    h.sandbox.inject({ method: 'GET', path: '/users/me', status: 401, times: 2 });
    expect((await reconnect(deps(), userId)).status).toBe('authorization_required');

    // Connect again, then disconnect with Calendly failing once, then for real.
    const again = await beginConnect(deps(), userId);
    const back2 = new URL(h.sandbox.approve(again.authorizeUrl, { email }));
    expect((await completeConnect(deps(), { code: back2.searchParams.get('code')!, state: back2.searchParams.get('state')! })).outcome).toBe('connected');
    signingKeys.push(...ourHooks(h, user.uri).map((w) => w.signingKey));
    h.sandbox.inject({ path: /.*/, status: 503, times: 100 });
    await disconnect(deps(), userId);
    h.sandbox.clearFaults();

    const secrets = [
      ...issued.flatMap((t) => [t.accessToken, t.refreshToken]),
      ...signingKeys,
      verifier,
      h.sandbox.clientSecret,
      h.sandbox.webhookSigningKey,
      back.searchParams.get('code')!,
    ];
    expect(issued.length).toBeGreaterThanOrEqual(3);
    expect(signingKeys.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeGreaterThan(5);
    const leaks = lines.filter((l) => secrets.some((s) => s && l.includes(s)));
    expect(leaks).toEqual([]);
  });
});
