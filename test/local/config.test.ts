/**
 * Start-up configuration: design.md's environment table, validated with zod; a bad value stops
 * `npm start` with one line naming the variable and exit code 2, never echoing a secret.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../local/config.js';

const CONFIG_VARS = [
  'PORT',
  'PUBLIC_BASE_URL',
  'APP_REDIRECT_URL',
  'CALENDLY_AUTH_URL',
  'CALENDLY_API_URL',
  'CALENDLY_CLIENT_ID',
  'CALENDLY_CLIENT_SECRET',
  'CALENDLY_WEBHOOK_SIGNING_KEY',
  'DATA_DIR',
  'HEALTH_CHECK_INTERVAL_SECONDS',
  'WEBHOOK_TOLERANCE_SECONDS',
  'TOKEN_ENCRYPTION_KEY',
  'LOG_LEVEL',
  'ALLOWED_ORIGINS',
];

const errorOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('gives the documented defaults and uses the sandbox when no Calendly is configured', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      publicBaseUrl: undefined,
      appRedirectUrl: undefined,
      calendly: { mode: 'sandbox' },
      dataDir: '.data',
      healthIntervalSeconds: 900,
      webhookToleranceSeconds: 90_000,
      reconcileIntervalSeconds: 86400,
      tokenEncryptionKey: undefined,
      logLevel: 'INFO',
      allowedOrigins: [],
    });
  });

  it('uses real Calendly URLs when only the app credentials are given', () => {
    const c = loadConfig({ CALENDLY_CLIENT_ID: 'id', CALENDLY_CLIENT_SECRET: 's', CALENDLY_WEBHOOK_SIGNING_KEY: 'k' });
    expect(c.calendly).toEqual({
      mode: 'external',
      authUrl: 'https://auth.calendly.com',
      apiUrl: 'https://api.calendly.com',
      clientId: 'id',
      clientSecret: 's',
      webhookSigningKey: 'k',
    });
  });

  it('reads every variable', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({
      PORT: '8080',
      PUBLIC_BASE_URL: 'https://abc.ngrok.app/',
      APP_REDIRECT_URL: 'http://localhost:5173/settings',
      DATA_DIR: '/tmp/x',
      HEALTH_CHECK_INTERVAL_SECONDS: '60',
      WEBHOOK_TOLERANCE_SECONDS: '300',
      RECONCILE_INTERVAL_SECONDS: '3600',
      TOKEN_ENCRYPTION_KEY: key,
      LOG_LEVEL: 'debug',
      ALLOWED_ORIGINS: ' https://App.Example.com , http://localhost:5173,https://app.example.com',
    });
    expect(c).toMatchObject({
      port: 8080,
      publicBaseUrl: 'https://abc.ngrok.app',
      appRedirectUrl: 'http://localhost:5173/settings',
      dataDir: '/tmp/x',
      healthIntervalSeconds: 60,
      webhookToleranceSeconds: 300,
      reconcileIntervalSeconds: 3600,
      tokenEncryptionKey: key,
      logLevel: 'DEBUG',
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ RECONCILE_INTERVAL_SECONDS: '10' }, 'RECONCILE_INTERVAL_SECONDS'],
    [{ RECONCILE_INTERVAL_SECONDS: 'daily' }, 'RECONCILE_INTERVAL_SECONDS'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PUBLIC_BASE_URL: 'not a url' }, 'PUBLIC_BASE_URL'],
    [{ PUBLIC_BASE_URL: 'ftp://x.example' }, 'PUBLIC_BASE_URL'],
    [{ APP_REDIRECT_URL: '/relative' }, 'APP_REDIRECT_URL'],
    [{ CALENDLY_API_URL: 'https://api.example' }, 'CALENDLY_CLIENT_ID'],
    [{ CALENDLY_CLIENT_ID: 'id' }, 'CALENDLY_CLIENT_SECRET'],
    [{ CALENDLY_CLIENT_ID: 'id', CALENDLY_CLIENT_SECRET: 's' }, 'CALENDLY_WEBHOOK_SIGNING_KEY'],
    [{ CALENDLY_CLIENT_SECRET: 's' }, 'CALENDLY_CLIENT_SECRET'],
    [{ HEALTH_CHECK_INTERVAL_SECONDS: '1.5' }, 'HEALTH_CHECK_INTERVAL_SECONDS'],
    [{ WEBHOOK_TOLERANCE_SECONDS: '0' }, 'WEBHOOK_TOLERANCE_SECONDS'],
    [{ TOKEN_ENCRYPTION_KEY: 'too-short' }, 'TOKEN_ENCRYPTION_KEY'],
    [{ LOG_LEVEL: 'LOUD' }, 'LOG_LEVEL'],
    [{ ALLOWED_ORIGINS: 'app.example.com' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://app.example.com/settings' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://app.example.com/' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://a.example,,https://b.example' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'ftp://files.example' }, 'ALLOWED_ORIGINS'],
  ])('names the variable: %j', (env, variable) => {
    const err = errorOf(env);
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(new RegExp(`^invalid configuration: ${variable} `));
    expect(err.message).not.toContain('\n');
  });

  it('never echoes a secret value', () => {
    const secret = 'super-secret-value-that-is-not-base64!!';
    expect(errorOf({ TOKEN_ENCRYPTION_KEY: secret }).message).not.toContain(secret);
    expect(errorOf({ CALENDLY_CLIENT_SECRET: secret }).message).not.toContain(secret);
  });
});

function runMain(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONFIG_VARS.includes(k)) base[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm start with a bad configuration', () => {
  it('exits 2 with one line naming PORT', async () => {
    const r = await runMain({ PORT: 'eighty', DATA_DIR: ':memory:' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^invalid configuration: PORT must be a whole number .*"eighty"/)]);
  });

  it('exits 2 with one line naming PUBLIC_BASE_URL', async () => {
    const r = await runMain({ PUBLIC_BASE_URL: 'localhost:3000', DATA_DIR: ':memory:' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^invalid configuration: PUBLIC_BASE_URL must be an absolute http\(s\) URL/)]);
  });

  it('exits 2 with one line naming ALLOWED_ORIGINS and the entry that is not an origin', async () => {
    const r = await runMain({ ALLOWED_ORIGINS: 'https://app.example.com,https://app.example.com/settings', DATA_DIR: ':memory:' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^invalid configuration: ALLOWED_ORIGINS must be comma-separated origins .*"https:\/\/app\.example\.com\/settings" is not one/)]);
  });

  it('exits 2 naming the missing secret without printing the given one', async () => {
    const r = await runMain({ CALENDLY_CLIENT_ID: 'app', CALENDLY_CLIENT_SECRET: 'shh-do-not-print', DATA_DIR: ':memory:' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('invalid configuration: CALENDLY_WEBHOOK_SIGNING_KEY is required when CALENDLY_CLIENT_ID is set');
    expect(r.stderr).not.toContain('shh-do-not-print');
  });
});
