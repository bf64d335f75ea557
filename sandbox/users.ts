/** Sandbox users: created by controls, read through GET /users/me and /users/{uuid}. */
import { authenticate } from './api-auth.js';
import type { Ctx, UserRec } from './records.js';
import type { SandboxState } from './state.js';
import type { CreateUserInput, SandboxUser, UserPlan, UserRole } from './types.js';
import { apiError, iso, notFound, uuid, type Reply } from './util.js';

/**
 * Idempotent by email. Without an organization the user gets a new one and owns it (a person
 * signing up alone); joining a given organization makes a plain member unless `role` says so.
 */
export function createUser(s: SandboxState, input: CreateUserInput): SandboxUser {
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
    role: input.role ?? (input.organization ? 'user' : 'owner'),
    plan: input.plan ?? s.defaultPlan,
    createdAt: now,
    updatedAt: now,
  };
  s.users.set(rec.uri, rec);
  s.usersByEmail.set(email, rec);
  s.lastUserUri = rec.uri;
  return userView(rec);
}

export function userView(u: UserRec): SandboxUser {
  return { uuid: u.uuid, uri: u.uri, organization: u.organization, email: u.email, name: u.name, role: u.role, plan: u.plan };
}

export function setUserPlan(s: SandboxState, userUri: string, plan: UserPlan): void {
  s.requireUser(userUri).plan = plan;
}

export function setUserRole(s: SandboxState, userUri: string, role: UserRole): void {
  s.requireUser(userUri).role = role;
}

/**
 * The user leaves their organization for another (a new one they own when none is given, else
 * as a plain member unless `role` says so). Their subscriptions stay under the old organization;
 * API calls naming the old one are refused from now on, and token answers carry the new one.
 */
export function moveUser(s: SandboxState, userUri: string, to: { organization?: string; role?: UserRole } = {}): SandboxUser {
  const u = s.requireUser(userUri);
  u.organization = to.organization ?? `${s.baseUrl}/organizations/${uuid()}`;
  u.role = to.role ?? (to.organization ? 'user' : 'owner');
  u.updatedAt = s.now();
  return userView(u);
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
  const user = authenticate(s, ctx, 'users:read');
  return { status: 200, json: { resource: userJson(s, user) } };
}

export function getUser(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, 'users:read');
  const target = [...s.users.values()].find((u) => u.uuid === ctx.params[0]);
  if (!target) throw notFound();
  if (target.organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
  return { status: 200, json: { resource: userJson(s, target) } };
}
