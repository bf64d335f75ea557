/** Sandbox users: created by controls, read through GET /users/me and /users/{uuid}. */
import { authenticate } from './api-auth.js';
import type { Ctx, UserRec } from './records.js';
import type { SandboxState } from './state.js';
import type { SandboxUser } from './types.js';
import { apiError, iso, notFound, uuid, type Reply } from './util.js';

/** Idempotent by email; a new organization per user unless one is given. */
export function createUser(s: SandboxState, input: { email: string; name?: string; organization?: string }): SandboxUser {
  const email = input.email.trim().toLowerCase();
  if (!email.includes('@')) throw new Error(`invalid email: ${input.email}`);
  const existing = s.usersByEmail.get(email);
  if (existing) return userView(existing);
  const id = uuid();
  const now = s.now();
  const local = email.split('@')[0] ?? 'user';
  const rec: UserRec = {
    uuid: id,
    uri: `${s.baseUrl}/users/${id}`,
    organization: input.organization ?? `${s.baseUrl}/organizations/${uuid()}`,
    email,
    name: input.name ?? local.replace(/[._-]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()),
    slug: `${local.replace(/[^a-z0-9]+/g, '-')}-${id.slice(0, 6)}`,
    timezone: 'UTC',
    createdAt: now,
    updatedAt: now,
  };
  s.users.set(rec.uri, rec);
  s.usersByEmail.set(email, rec);
  s.lastUserUri = rec.uri;
  return userView(rec);
}

export function userView(u: UserRec): SandboxUser {
  return { uuid: u.uuid, uri: u.uri, organization: u.organization, email: u.email, name: u.name };
}

export function listUsers(s: SandboxState): SandboxUser[] {
  return [...s.users.values()].map(userView);
}

export function userByEmail(s: SandboxState, email: string): SandboxUser | undefined {
  const u = s.usersByEmail.get(email.trim().toLowerCase());
  return u ? userView(u) : undefined;
}

function userJson(s: SandboxState, u: UserRec) {
  return {
    uri: u.uri,
    name: u.name,
    slug: u.slug,
    email: u.email,
    scheduling_url: `${s.baseUrl}/book/${u.slug}`,
    timezone: u.timezone,
    time_notation: '24h',
    avatar_url: null,
    created_at: iso(u.createdAt),
    updated_at: iso(u.updatedAt),
    current_organization: u.organization,
    resource_type: 'User',
    locale: 'en',
  };
}

export function getMe(s: SandboxState, ctx: Ctx): Reply {
  const user = authenticate(s, ctx);
  return { status: 200, json: { resource: userJson(s, user) } };
}

export function getUser(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx);
  const target = [...s.users.values()].find((u) => u.uuid === ctx.params[0]);
  if (!target) throw notFound();
  if (target.organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
  return { status: 200, json: { resource: userJson(s, target) } };
}
