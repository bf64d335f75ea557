import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** The runtime's own variables: stripped from the parent's environment so a test sets its own. */
const CONFIG_VARS = /^(PORT|PUBLIC_BASE_URL|APP_REDIRECT_URL|CALENDLY_.*|DATA_DIR|HEALTH_CHECK_INTERVAL_SECONDS|WEBHOOK_TOLERANCE_SECONDS|TOKEN_ENCRYPTION_KEY|LOG_LEVEL|ALLOWED_ORIGINS)$/;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RuntimeProcess {
  child: ChildProcess;
  baseUrl: string;
  msToHealth: number;
  output: () => string;
}

/**
 * `npm start` as a supervisor runs it (`node --import tsx local/main.ts`), in its own process:
 * the handlers memoise their configuration per process, so a restart test needs a real one.
 * Resolves once GET /health answers {ok:true} (waits up to 60 s: no timing is asserted here).
 */
export async function startRuntimeProcess(dataDir: string, opts: { port?: number; env?: Record<string, string> } = {}): Promise<RuntimeProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONFIG_VARS.test(k)) env[k] = v;
  const port = opts.port ?? (await freePort());
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    env: { ...env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'WARN', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`runtime exited with ${child.exitCode}: ${out}`);
    try {
      const res = await fetch(`${baseUrl}/health`);
      if (res.status === 200 && ((await res.json()) as { ok?: boolean }).ok === true) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`no /health answer: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl, msToHealth: Date.now() - t0, output: () => out };
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
