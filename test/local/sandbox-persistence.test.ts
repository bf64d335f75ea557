/**
 * The embedded sandbox's state survives a graceful restart on the same DATA_DIR, so a connection
 * made before it is still good after it: `npm start` (a child process, real handlers, driven only
 * over HTTP) connects a user through OAuth, stops on SIGTERM, starts again, and the connection
 * is still connected, reconnect needs no token request and no new hook, and a booking made
 * after the restart is delivered and listed. In process: a damaged or incompatible
 * sandbox-state.json costs one warning and a fresh sandbox, never the start.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { logSinks } from '../../functions/shared/logger.js';
import { SANDBOX_STATE_FILE } from '../../local/runtime.js';
import { SANDBOX_SNAPSHOT_VERSION } from '../../sandbox/index.js';
import { exitOf, freePort, startRuntimeProcess, type RuntimeProcess } from '../support/child-runtime.js';
import { startTestRuntime, type LocalRuntime } from '../support/runtime.js';

/** `npm start` as a supervisor runs it, on a fixed port (the hook's callback URL names it). */
const startChild = (dataDir: string, port: number) => startRuntimeProcess(dataDir, { port, env: { HEALTH_CHECK_INTERVAL_SECONDS: '0' } });

async function stopChild(running: RuntimeProcess): Promise<number | null> {
  const exited = exitOf(running.child);
  if (running.child.exitCode === null) running.child.kill('SIGTERM');
  return exited;
}

async function http(base: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown; location: string | null }> {
  const res = await fetch(`${base}${path}`, {
    method,
    redirect: 'manual',
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body, location: res.headers.get('location') };
}

interface HookView {
  uri: string;
  state: string;
  callbackUrl: string;
  signingKey: string;
}

describe('npm start: the sandbox state survives a graceful restart', () => {
  let dataDir: string;
  let running: RuntimeProcess | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sandbox-persist-'));
  });
  afterAll(async () => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps the connection connected: reconnect costs no token request and no new hook, and a later booking is delivered', async () => {
    const port = await freePort();
    running = await startChild(dataDir, port);
    const base = running.baseUrl;
    const { token } = (await http(base, 'POST', '/dev/session', { body: { userId: 'persist-user' } })).body as { token: string };

    // Connect through the real OAuth flow: the sandbox approves at once, the "browser" follows.
    const connect = await http(base, 'POST', '/connections/calendly/connect', { token });
    expect(connect.status).toBe(200);
    const consent = await fetch((connect.body as { authorizeUrl: string }).authorizeUrl, { redirect: 'manual' });
    const back = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
    expect(back.headers.get('location')).toBe(`${base}/?calendly=connected`);
    const before = (await http(base, 'GET', '/connections/calendly', { token })).body as { status: string; calendlyUserUri: string; webhook: { uri: string; state: string } };
    expect(before).toMatchObject({ status: 'connected', webhook: { state: 'active' } });
    const hooksBefore = (await http(base, 'GET', '/__sandbox/webhooks')).body as HookView[];
    expect(hooksBefore.map((h) => h.uri)).toEqual([before.webhook.uri]);
    const cfgBefore = (await http(base, 'GET', '/dev/config')).body as { sandboxBaseUrl: string };

    expect(await stopChild(running)).toBe(0);
    const file = join(dataDir, SANDBOX_STATE_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    running = await startChild(dataDir, port);
    // Same sandbox address: the URIs the store holds (user, hook) are still under the API base.
    expect(((await http(base, 'GET', '/dev/config')).body as { sandboxBaseUrl: string }).sandboxBaseUrl).toBe(cfgBefore.sandboxBaseUrl);
    const after = await http(base, 'GET', '/connections/calendly', { token });
    expect(after.body).toMatchObject({ status: 'connected', calendlyUserUri: before.calendlyUserUri, webhook: { uri: before.webhook.uri, state: 'active' } });

    const reconnect = await http(base, 'POST', '/connections/calendly/reconnect', { token });
    expect(reconnect.status).toBe(200);
    expect(reconnect.body).toMatchObject({ status: 'connected', webhook: { uri: before.webhook.uri, state: 'active' } });
    const calls = (await http(base, 'GET', '/__sandbox/calls')).body as Record<string, number>;
    expect(calls['GET /users/me']).toBeGreaterThanOrEqual(1); // it did talk to the restored sandbox
    expect(calls['POST /oauth/token'] ?? 0).toBe(0);
    expect(calls['POST /webhook_subscriptions'] ?? 0).toBe(0);
    expect(calls['DELETE /webhook_subscriptions/{uuid}'] ?? 0).toBe(0);
    const hooksAfter = (await http(base, 'GET', '/__sandbox/webhooks')).body as HookView[];
    expect(hooksAfter).toEqual(hooksBefore);

    const booked = await http(base, 'POST', '/__sandbox/book', {
      body: { userUri: before.calendlyUserUri, invitees: [{ email: 'after-restart@example.test', name: 'After Restart' }], name: 'Booked after restart' },
    });
    expect(booked.status).toBe(200);
    const { event, deliveries } = booked.body as { event: { uri: string }; deliveries: Array<{ status: number; subscription: string }> };
    expect(deliveries.map((d) => [d.status, d.subscription])).toEqual([[200, before.webhook.uri]]);

    // Ingest may finish through the sync queue: look until it is listed (bounded, not timed).
    const from = encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString());
    const to = encodeURIComponent(new Date(Date.now() + 30 * 86_400_000).toISOString());
    let listed: Array<{ name: string; eventUri: string }> = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const res = await http(base, 'GET', `/meetings?from=${from}&to=${to}`, { token });
      expect(res.status).toBe(200);
      listed = (res.body as { meetings: typeof listed }).meetings;
      if (listed.some((m) => m.eventUri === event.uri)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed).toContainEqual(expect.objectContaining({ name: 'Booked after restart', eventUri: event.uri }));

    expect(await stopChild(running)).toBe(0);
    expect(running.output()).not.toMatch(/sandbox state cannot be used/);
  }, 180_000);
});

describe('a sandbox-state.json that cannot be used (in process)', () => {
  const lines: Array<Record<string, unknown>> = [];
  logSinks.push((line) => lines.push(line as Record<string, unknown>));
  let dataDir: string | undefined;
  let rt: LocalRuntime | undefined;
  afterEach(async () => {
    await rt?.stop();
    rt = undefined;
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['torn JSON', '{"version":1,"users":['],
    ['another version', JSON.stringify({ version: 99, anything: true })],
    ['the right version with the wrong shape', JSON.stringify({ version: 1, users: 'none' })],
  ])('%s: one warning, a fresh sandbox, and a good file again after the next stop', async (_name, content) => {
    dataDir = await mkdtemp(join(tmpdir(), 'sandbox-bad-state-'));
    await writeFile(join(dataDir, SANDBOX_STATE_FILE), content, { mode: 0o600 });
    lines.length = 0;
    rt = await startTestRuntime({ dataDir });
    const warnings = lines.filter((l) => String(l.message).includes('sandbox state cannot be used'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn' });
    expect(rt.sandbox!.users().map((u) => u.email)).toEqual(['demo@sandbox.test']);
    rt.sandbox!.createUser({ email: 'kept@example.test' });
    await rt.stop();
    rt = undefined;
    const saved = JSON.parse(await readFile(join(dataDir, SANDBOX_STATE_FILE), 'utf8')) as { version: number; users: Array<{ email: string }> };
    expect(saved.version).toBe(SANDBOX_SNAPSHOT_VERSION);
    expect(saved.users.map((u) => u.email).sort()).toEqual(['demo@sandbox.test', 'kept@example.test']);
  }, 60_000);
});
