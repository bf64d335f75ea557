/**
 * Crash-point matrix. For connect, reconnect and disconnect, a clean run is traced first: every
 * Calendly call (through the real client to the sandbox) and every DynamoDB write, in order.
 * Then, for each step, a fresh connection is put in the same starting state and the flow is
 * run with a fault at that step:
 *  - fail:        Calendly call → the sandbox answers 503 (injected fault, over HTTP);
 *                 store write   → the write is refused with an error (DynamoDB client middleware).
 *  - crash-after: the call/write happens, then the process "dies": the flow never continues
 *                 (its promise hangs forever, like a killed Lambda; leases stay behind).
 *  - lost:        (creates and token calls) the sandbox performs it and drops the connection
 *                 without answering (loseResponse); the flow continues with a network error.
 * Then the clock moves past every lease, and the flow is run again on fresh ports (a new
 * Lambda). The end state must converge: one active hook at the sandbox pointing at us, whose
 * signing key we hold (webhook-keys record of this user, not retired), recorded on the
 * connection, valid tokens, and no other hook of ours (for disconnect: no hook, no tokens).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CalendlyPort } from '../../functions/calendly/port.js';
import type { ConnectionDeps } from '../../functions/flows/connection-deps.js';
import { disconnect, finishPendingCleanup } from '../../functions/flows/disconnect.js';
import { reconnect } from '../../functions/flows/reconnect.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import type { SandboxUser } from '../support/sandbox.js';
import { connectViaOAuth, hookKeyOf, newEmail, newUserId, ourHooks, startHarness, type Harness } from './harness.js';

type Variant = 'fail' | 'crash-after' | 'lost';

interface Plan {
  index: number;
  variant: Variant;
}

/** Follows one run: numbers every Calendly call and store write, and fires the planned fault. */
class Tracer {
  readonly steps: string[] = [];
  crashed = false;
  private onCrash: () => void = () => undefined;
  readonly crash = new Promise<'crashed'>((resolve) => {
    this.onCrash = () => resolve('crashed');
  });
  constructor(readonly plan?: Plan) {}
  /** Registers a step; answers the fault to apply to it, if any. */
  step(label: string): Variant | undefined {
    const i = this.steps.push(label) - 1;
    return this.plan && this.plan.index === i ? this.plan.variant : undefined;
  }
  die(): Promise<never> {
    this.crashed = true;
    this.onCrash();
    return new Promise<never>(() => undefined);
  }
}

const HTTP: Record<string, { method: string; path: string }> = {
  refresh: { method: 'POST', path: '/oauth/token' },
  exchangeCode: { method: 'POST', path: '/oauth/token' },
  revoke: { method: 'POST', path: '/oauth/revoke' },
  getCurrentUser: { method: 'GET', path: '/users/me' },
  listWebhookSubscriptions: { method: 'GET', path: '/webhook_subscriptions' },
  createWebhookSubscription: { method: 'POST', path: '/webhook_subscriptions' },
  deleteWebhookSubscription: { method: 'DELETE', path: '/webhook_subscriptions/{uuid}' },
};

function tracedClient(h: Harness, inner: CalendlyPort, tracer: Tracer): CalendlyPort {
  const wrap =
    <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const v = tracer.step(`calendly:${name}`);
      const http = HTTP[name]!;
      if (v === 'fail') {
        h.sandbox.inject({ method: http.method, path: http.path, status: 503, times: 10 });
        try {
          return await fn(...args);
        } finally {
          h.sandbox.clearFaults();
        }
      }
      if (v === 'lost') h.sandbox.inject({ method: http.method, path: http.path, loseResponse: true, times: 1 });
      const out = await fn(...args);
      if (v === 'crash-after') return tracer.die();
      return out;
    };
  return {
    authorizeUrl: (i) => inner.authorizeUrl(i),
    exchangeCode: wrap('exchangeCode', (i) => inner.exchangeCode(i)),
    refresh: wrap('refresh', (t) => inner.refresh(t)),
    revoke: wrap('revoke', (t) => inner.revoke(t)),
    getCurrentUser: wrap('getCurrentUser', (t) => inner.getCurrentUser(t)),
    listWebhookSubscriptions(token, input) {
      const drained = wrap('listWebhookSubscriptions', async () => {
        const all = [];
        for await (const x of inner.listWebhookSubscriptions(token, input)) all.push(x);
        return all;
      });
      return (async function* () {
        yield* await drained();
      })();
    },
    getWebhookSubscription: (t, u) => inner.getWebhookSubscription(t, u),
    createWebhookSubscription: wrap('createWebhookSubscription', (t, i) => inner.createWebhookSubscription(t, i)),
    deleteWebhookSubscription: wrap('deleteWebhookSubscription', (t, u) => inner.deleteWebhookSubscription(t, u)),
    listScheduledEventsPage: (t, i) => inner.listScheduledEventsPage(t, i),
    listEventInvitees: (t, u) => inner.listEventInvitees(t, u),
  };
}

/** Store writes pass through this middleware: numbered, and failed or "crashed after" on plan. */
function traceWrites(doc: DynamoDBDocumentClient, tracer: Tracer): void {
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? '');
      if (!/Put|Update|Delete/.test(name)) return next(args);
      const input = args.input as { TableName?: string; UpdateExpression?: string };
      const table = String(input.TableName ?? '').replace(/^test-/, '');
      const what = input.UpdateExpression ? input.UpdateExpression.replace(/^SET\s+|^REMOVE\s+/, '').split(/[ ,=]/)[0] : 'put';
      const v = tracer.step(`write:${table}:${what}`);
      if (v === 'fail') throw Object.assign(new Error('injected store failure'), { name: 'InternalServerError' });
      const out = await next(args);
      if (v === 'crash-after' || v === 'lost') return tracer.die();
      return out;
    },
    { step: 'initialize', name: 'crashMatrixTracer' },
  );
}

interface Scenario {
  name: 'connect' | 'reconnect' | 'disconnect';
  /** Brings a fresh user to the starting state; returns what the run needs. */
  prepare(h: Harness): Promise<{ userId: string; email: string; user?: SandboxUser }>;
  run(h: Harness, deps: ConnectionDeps, ctx: { userId: string; email: string }): Promise<unknown>;
  /** Runs it again (a retry / the user clicking again / the health checker), then checks the end state. */
  converge(h: Harness, ctx: { userId: string; email: string }): Promise<string[]>;
}

async function problemsConnected(h: Harness, userId: string, email: string): Promise<string[]> {
  const problems: string[] = [];
  const user = h.sandbox.userByEmail(email)!;
  const hooks = ourHooks(h, user.uri);
  if (hooks.length !== 1) problems.push(`${hooks.length} hooks of ours at the sandbox`);
  const hook = hooks.find((w) => w.state === 'active');
  if (!hook) return [...problems, 'no active hook'];
  const key = await h.deps().webhookKeys.get(hookKeyOf(hook.callbackUrl));
  if (!key || key.userId !== userId || key.state === 'retired') problems.push(`hook key not held (state ${key?.state})`);
  else if (key.signingKey !== hook.signingKey) problems.push('signing key differs from the one Calendly holds');
  const conn = await h.deps().connections.get(userId);
  if (conn?.status !== 'connected') problems.push(`status ${conn?.status}`);
  if (conn?.webhook?.uri !== hook.uri) problems.push('hook not recorded on the connection');
  if (conn?.lease) problems.push('connection lease left behind');
  try {
    const token = await getAccessToken(h.deps(), userId);
    await h.deps().calendly.getCurrentUser(token);
  } catch (e) {
    problems.push(`token not usable: ${(e as Error).message}`);
  }
  return problems;
}

const connectScenario: Scenario = {
  name: 'connect',
  async prepare(h) {
    const email = newEmail();
    const user = h.sandbox.createUser({ email });
    return { userId: newUserId(), email, user };
  },
  run: (h, deps, { userId, email }) => connectViaOAuth(h, deps, userId, email),
  async converge(h, { userId, email }) {
    const again = await connectViaOAuth(h, h.deps(), userId, email);
    const problems = again.outcome === 'connected' ? [] : [`second connect answered ${again.location.search}`];
    return [...problems, ...(await problemsConnected(h, userId, email))];
  },
};

const reconnectScenario: Scenario = {
  name: 'reconnect',
  async prepare(h) {
    const email = newEmail();
    const userId = newUserId();
    const r = await connectViaOAuth(h, h.deps(), userId, email);
    if (r.outcome !== 'connected') throw new Error('setup connect failed');
    // Hook disabled and token expired: the run must refresh, create, record and delete.
    h.sandbox.disableWebhook(ourHooks(h, r.user.uri)[0]!.uri);
    h.advance(2 * 3600_000 + 1000);
    return { userId, email, user: r.user };
  },
  run: (_h, deps, { userId }) => reconnect(deps, userId),
  async converge(h, { userId, email }) {
    const problems: string[] = [];
    let answer = await reconnect(h.deps(), userId);
    if (answer.status === 'authorization_required') {
      // Only a refresh whose answer was lost (the token was spent) may end here; the user then
      // authorizes again. Anything else is a failure of the flow.
      const conn = await h.deps().connections.get(userId);
      if (conn?.lastError?.code !== 'refresh_refused') problems.push(`authorization_required without a refused refresh (${conn?.lastError?.code})`);
      const again = await connectViaOAuth(h, h.deps(), userId, email);
      if (again.outcome !== 'connected') problems.push('connect after authorization_required failed');
      answer = await reconnect(h.deps(), userId);
    }
    if (answer.status !== 'connected') problems.push(`reconnect answered ${answer.status}`);
    return [...problems, ...(await problemsConnected(h, userId, email))];
  },
};

const disconnectScenario: Scenario = {
  name: 'disconnect',
  async prepare(h) {
    const email = newEmail();
    const userId = newUserId();
    const r = await connectViaOAuth(h, h.deps(), userId, email);
    if (r.outcome !== 'connected') throw new Error('setup connect failed');
    return { userId, email, user: r.user };
  },
  run: (_h, deps, { userId }) => disconnect(deps, userId),
  async converge(h, { userId, email }) {
    const problems: string[] = [];
    const user = h.sandbox.userByEmail(email)!;
    const keysBefore = ourHooks(h, user.uri).map((w) => hookKeyOf(w.callbackUrl));
    const answer = await disconnect(h.deps(), userId);
    if (answer.status !== 'disconnected') problems.push('disconnect did not answer disconnected');
    let conn = await h.deps().connections.get(userId);
    if (conn?.cleanupPending) {
      // The health checker's part.
      const r = await finishPendingCleanup(h.deps(), userId);
      if (r !== 'done') problems.push(`finishPendingCleanup answered ${r}`);
      conn = await h.deps().connections.get(userId);
    }
    if (conn?.status !== 'disconnected') problems.push(`status ${conn?.status}`);
    if (conn?.cleanupPending) problems.push('cleanup still pending');
    if (conn?.hasTokens) problems.push('tokens still stored');
    if (conn?.lease) problems.push('connection lease left behind');
    const left = ourHooks(h, user.uri);
    if (left.length) problems.push(`${left.length} hooks left at the sandbox`);
    for (const k of keysBefore) {
      const rec = await h.deps().webhookKeys.get(k);
      if (rec && rec.state !== 'retired') problems.push(`hook key ${rec.state}, not retired`);
    }
    return problems;
  },
};

const LEASES_EXPIRE_MS = 61_000;

describe('crash-point matrix: connect, reconnect, disconnect converge after any single fault', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sandbox: { tokenRateLimit: 1000 } });
  });
  afterAll(async () => h.close());

  const tracedDeps = (tracer: Tracer) => {
    const { doc } = h.db.newClients();
    traceWrites(doc, tracer);
    const deps = h.deps({ doc });
    return { ...deps, calendly: tracedClient(h, deps.calendly, tracer) };
  };

  async function runCase(scenario: Scenario, plan: Plan | undefined): Promise<{ steps: string[]; problems: string[]; ended: string }> {
    const ctx = await scenario.prepare(h);
    const tracer = new Tracer(plan);
    const deps = tracedDeps(tracer);
    const ended = await Promise.race([
      scenario.run(h, deps, ctx).then(
        () => 'completed',
        (e: unknown) => `error ${(e as { code?: string }).code ?? (e as Error).message}`,
      ),
      tracer.crash,
    ]);
    h.sandbox.clearFaults();
    // Whatever the first run left (leases of a dead Lambda) expires before the retry.
    h.advance(LEASES_EXPIRE_MS);
    const problems = await scenario.converge(h, ctx);
    await h.takeSyncMessages();
    return { steps: tracer.steps, problems, ended };
  }

  const summary: Record<string, { steps: number; cases: number }> = {};

  for (const scenario of [connectScenario, reconnectScenario, disconnectScenario]) {
    it(`${scenario.name}: every Calendly call and store write, failed or crashed after, converges on the next run`, { timeout: 240_000 }, async () => {
      const clean = await runCase(scenario, undefined);
      expect(clean.ended).toBe('completed');
      expect(clean.problems).toEqual([]);
      const failures: string[] = [];
      let cases = 0;
      const endings: string[] = [];
      for (let i = 0; i < clean.steps.length; i++) {
        const label = clean.steps[i]!;
        const variants: Variant[] = ['fail', 'crash-after'];
        if (label === 'calendly:createWebhookSubscription' || label === 'calendly:refresh' || label === 'calendly:exchangeCode') variants.push('lost');
        for (const variant of variants) {
          cases++;
          const r = await runCase(scenario, { index: i, variant });
          endings.push(`#${i} ${label} ${variant}: first run ${r.ended}`);
          if (r.steps[i] !== label) failures.push(`#${i} ${label} ${variant}: the run took another path (${r.steps[i]})`);
          for (const p of r.problems) failures.push(`#${i} ${label} ${variant} (${r.ended}): ${p}`);
        }
      }
      summary[scenario.name] = { steps: clean.steps.length, cases };
      console.info(`crash matrix ${scenario.name}: ${clean.steps.length} steps, ${cases} cases\n  ${endings.join('\n  ')}`);
      expect(failures).toEqual([]);
    });
  }
});
