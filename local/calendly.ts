/**
 * Which Calendly the handlers talk to: the configured one, or the embedded sandbox (its state
 * kept in `$DATA_DIR/sandbox-state.json` across graceful restarts).
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '../functions/shared/logger.js';
import type { LocalConfig } from './config.js';
import type { LocalKeys } from './keys.js';
import type { Sandbox, SandboxOptions, SandboxSnapshot } from '../sandbox/types.js';

type SandboxModule = typeof import('../sandbox/index.js');

export interface CalendlyTarget {
  mode: 'sandbox' | 'external' | 'unavailable';
  authUrl: string;
  apiUrl: string;
}

/** The OAuth app the handlers act as. */
export interface CalendlyApp {
  clientId: string;
  clientSecret: string;
  webhookSigningKey: string;
}

export interface LocalCalendly {
  calendly: CalendlyTarget;
  app: CalendlyApp;
  /** The embedded sandbox, when in use. */
  sandbox?: Sandbox;
}

export async function startCalendly(
  config: LocalConfig,
  keys: LocalKeys,
  publicBaseUrl: string,
  sandboxOptions: SandboxOptions | undefined,
): Promise<LocalCalendly> {
  if (config.calendly.mode === 'external') {
    const c = config.calendly;
    return { calendly: { mode: 'external', authUrl: c.authUrl, apiUrl: c.apiUrl }, app: c };
  }
  let sandboxModule: SandboxModule | undefined;
  try {
    // Loaded only when used; a sandbox that does not load must not stop the runtime.
    sandboxModule = await import('../sandbox/index.js');
    if (typeof sandboxModule.startSandbox !== 'function') throw new Error('sandbox/index.ts does not export startSandbox');
  } catch (err) {
    logger.error('the built-in Calendly sandbox could not be loaded; starting without it (Calendly calls will fail). Set CALENDLY_CLIENT_ID and friends to use a real Calendly.', {
      error: err instanceof Error ? err.message : String(err),
    });
    sandboxModule = undefined;
  }
  if (!sandboxModule) {
    const unavailable = `${publicBaseUrl}/__sandbox`;
    return { calendly: { mode: 'unavailable', authUrl: unavailable, apiUrl: unavailable }, app: keys.sandbox };
  }
  const sandbox = await startSandboxWithSavedState(sandboxModule, config.dataDir, {
    port: 0,
    host: '127.0.0.1',
    // = oauthRedirectUri() in functions/wiring/; not imported here because the composition
    // root pulls in every adapter, which would slow down start-up (the handlers load it).
    redirectUris: [`${publicBaseUrl}/oauth/calendly/callback`],
    ...keys.sandbox,
    ...(sandboxOptions ?? {}),
  });
  return { calendly: { mode: 'sandbox', authUrl: sandbox.baseUrl, apiUrl: sandbox.baseUrl }, app: sandbox, sandbox };
}

export const SANDBOX_STATE_FILE = 'sandbox-state.json';

const SANDBOX_FRESH = 'the saved sandbox state cannot be used; the sandbox starts fresh (connections made before it must connect again)';

/**
 * Starts the embedded sandbox from `$DATA_DIR/sandbox-state.json` when there is one, so the
 * tokens and hooks the store holds still mean something. A damaged or incompatible file costs
 * one warning line and a fresh sandbox, never the start. The file is kept (the next graceful
 * stop overwrites it): after a crash, the state of the last graceful stop beats none.
 */
async function startSandboxWithSavedState(mod: SandboxModule, dataDir: string, base: SandboxOptions): Promise<Sandbox> {
  if (dataDir === ':memory:' || base.initialState) return mod.startSandbox(base);
  const file = join(dataDir, SANDBOX_STATE_FILE);
  const fresh = (err: unknown) => {
    logger.warn(SANDBOX_FRESH, { file, error: err instanceof Error ? err.message : String(err) });
    return mod.startSandbox(base);
  };
  let initialState: SandboxSnapshot;
  try {
    initialState = mod.parseSandboxSnapshot(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return mod.startSandbox(base);
    return fresh(err);
  }
  // The store holds absolute URIs (users, hooks, events) with the sandbox's address in them, and
  // the client only follows URIs under its API base: come back on the same port.
  const port = base.port ? base.port : Number(new URL(initialState.baseUrl).port);
  try {
    return await mod.startSandbox({ ...base, port, initialState });
  } catch (err) {
    if (err instanceof mod.SandboxSnapshotError) return fresh(err);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && port !== (base.port ?? 0)) {
      logger.warn(`sandbox port ${port} is in use; the saved sandbox state moves to a new port (connections made before it may need to connect again)`, { file });
      return mod.startSandbox({ ...base, initialState });
    }
    throw err;
  }
}

/** Writes the snapshot next to the store: temp file, fsync, rename, so a crash never leaves half a file. */
export async function saveSandboxState(dataDir: string, sandbox: Sandbox): Promise<void> {
  if (dataDir === ':memory:') return;
  const path = join(dataDir, SANDBOX_STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.chmod(0o600); // a leftover temp file keeps its old mode otherwise
    await fh.writeFile(JSON.stringify(sandbox.snapshot()));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
