import type { InternalUsers } from './classify.js';
import type { StatusBands } from './metric.js';
import { parseMilestones, type Milestone } from './milestones.js';

/** The thresholds and targets the seed fixes; each can be overridden by the variable of the same name. */
export interface MetricSettings extends StatusBands {
  dauTarget: number;
  mauTarget: number;
  /** Before the first real user, days are counted from here (else from the install date). */
  baselineDate: Date | null;
}

export interface Config extends MetricSettings {
  internal: InternalUsers;
  /** MILESTONES (JSON), else the seed's Milestone Targets table. */
  milestones: readonly Milestone[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export function listFromEnv(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function numberFromEnv(env: Env, name: string, fallback: number, { min = 0, integer = false } = {}): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new ConfigError(name, `must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${raw}"`);
  }
  return value;
}

export function stringFromEnv(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is required');
  return value;
}

function baselineFromEnv(env: Env): Date | null {
  const raw = env.BASELINE_DATE?.trim();
  if (!raw) return null;
  const value = new Date(DATE_ONLY.test(raw) ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(value.getTime())) {
    throw new ConfigError('BASELINE_DATE', `must be a date like 2026-02-01, got "${raw}"`);
  }
  return value;
}

/** Reads and validates the metric's configuration once; the message names the variable at fault. */
export function loadConfig(env: Env): Config {
  const warningDays = numberFromEnv(env, 'WARNING_DAYS', 1);
  const criticalDays = numberFromEnv(env, 'CRITICAL_DAYS', 7);
  if (criticalDays <= warningDays) {
    throw new ConfigError('CRITICAL_DAYS', `must be greater than WARNING_DAYS (${warningDays}), got ${criticalDays}`);
  }
  const userIds = listFromEnv(env, 'INTERNAL_USER_IDS');
  const badId = userIds.find((id) => !UUID.test(id));
  if (badId !== undefined) throw new ConfigError('INTERNAL_USER_IDS', `must be comma-separated UUIDs, got "${badId}"`);
  const emailDomains = listFromEnv(env, 'INTERNAL_EMAIL_DOMAINS').map((domain) => domain.replace(/^@/, '').toLowerCase());
  const badDomain = emailDomains.find((domain) => !DOMAIN.test(domain));
  if (badDomain !== undefined) {
    throw new ConfigError('INTERNAL_EMAIL_DOMAINS', `must be comma-separated domains like example.com, got "${badDomain}"`);
  }
  const milestones = parseMilestones(env.MILESTONES);
  if (!milestones.ok) throw new ConfigError('MILESTONES', milestones.problem);
  return {
    warningDays,
    criticalDays,
    dauTarget: numberFromEnv(env, 'DAU_TARGET', 10, { integer: true }),
    mauTarget: numberFromEnv(env, 'MAU_TARGET', 50, { integer: true }),
    baselineDate: baselineFromEnv(env),
    internal: {
      userIds: new Set(userIds.map((id) => id.toLowerCase())),
      emailDomains: new Set(emailDomains),
    },
    milestones: milestones.value,
  };
}
