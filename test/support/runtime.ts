/**
 * One local runtime per test file: in memory, on a free port, no scheduler, quiet.
 *
 *   const rt = useLocalRuntime({ handlers: { ... } });
 *   it('...', async () => { await fetch(`${rt().baseUrl}/health`) });
 *
 * Handlers memoise their configuration from process.env (functions/wiring/), so a file that
 * uses the real handlers should start only one runtime (vitest runs each file in its own
 * process).
 */
import { afterAll, beforeAll } from 'vitest';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../../local/runtime.js';

export type { LocalRuntime, LocalRuntimeOptions };

export async function startTestRuntime(opts: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  return startLocalRuntime({
    port: 0,
    dataDir: ':memory:',
    healthIntervalSeconds: 0,
    ...opts,
    env: { LOG_LEVEL: 'WARN', ...(opts.env ?? {}) },
  });
}

/** Starts a runtime before the file's tests and stops it after; returns an accessor. */
export function useLocalRuntime(opts: LocalRuntimeOptions = {}): () => LocalRuntime {
  let runtime: LocalRuntime | undefined;
  beforeAll(async () => {
    runtime = await startTestRuntime(opts);
  }, 60_000);
  afterAll(async () => {
    await runtime?.stop();
  }, 60_000);
  return () => {
    if (!runtime) throw new Error('the local runtime is not started (use it inside a test)');
    return runtime;
  };
}

/** Calls the runtime's HTTP API; returns status, headers and parsed JSON (or text). */
export async function call(
  runtime: LocalRuntime,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: RequestInit['body'];
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string' || opts.body instanceof Uint8Array) body = opts.body as NonNullable<RequestInit['body']>;
    else {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  const res = await fetch(`${runtime.baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
