import * as z from 'zod/mini';
import type { InternalUsers } from './classify.js';
import { DEFAULT_COUNTING_TYPES, INTERACTION_TYPE, PAYMENT_TYPE, storedUserId, UserIdSchema } from './interaction.js';
import type { StatusBands } from './metric.js';
import { parseMilestones, type Milestone } from './milestones.js';

/** The thresholds and targets the seed fixes; each can be overridden by the variable of the same name. */
export interface MetricSettings extends StatusBands {
  dauTarget: number;
  mauTarget: number;
  /** Before the first real user, days are counted from here (else from the install date). */
  baselineDate: Date | null;
}

/** Days of the week as the check-in names them, Sunday first (Date#getUTCDay's numbering). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Who the team is, and where: what the messages, the page and the weekly check-in say and when. */
export interface TeamSettings {
  /** PRODUCT_NAME; null: the messages say "the product". */
  productName: string | null;
  /** TEAM_TIME_ZONE, an IANA name as Intl spells it (canonical case). */
  timeZone: string;
  /** The weekly check-in: CHECK_IN_DAY at CHECK_IN_HOUR:00 in the team's time zone. */
  checkIn: { day: Weekday; hour: number };
}

/** STORE_IP: keep no address (the default), or one truncated to its network (/24 for IPv4, /48 for IPv6). */
export const IP_STORAGE = ['none', 'truncated'] as const;
export type IpStorage = (typeof IP_STORAGE)[number];

export interface Config extends MetricSettings {
  internal: InternalUsers;
  /** INTERACTION_TYPES: the types that count as engagement; any other type is kept as not_engagement. */
  countingTypes: ReadonlySet<string>;
  /** MILESTONES or MILESTONES_FILE (JSON); none unless configured. */
  milestones: readonly Milestone[];
  team: TeamSettings;
  storeIp: IpStorage;
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

/** Reads a file the configuration names (MILESTONES_FILE); passed in, so this module does no I/O. */
export type ReadConfigFile = (path: string) => string;

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// An IANA name (Area/Location, or UTC): Intl alone would also take offsets like +02:00 on newer Node, which EventBridge Scheduler does not.
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

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

/** INTERNAL_USER_IDS: comma-separated ids, or a JSON array of them when an id holds a comma. Stored as ingest stores ids. */
function internalUserIdsFromEnv(env: Env): string[] {
  const raw = env.INTERNAL_USER_IDS?.trim() ?? '';
  let ids: unknown[];
  if (raw.startsWith('[')) {
    try {
      ids = JSON.parse(raw) as unknown[];
    } catch {
      throw new ConfigError('INTERNAL_USER_IDS', 'starts with [ but is not a JSON array of user ids');
    }
    if (!Array.isArray(ids)) throw new ConfigError('INTERNAL_USER_IDS', 'starts with [ but is not a JSON array of user ids');
  } else {
    ids = listFromEnv(env, 'INTERNAL_USER_IDS');
  }
  return ids.map((id, index) => {
    const parsed = z.safeParse(UserIdSchema, id);
    if (!parsed.success) {
      const shown = typeof id === 'string' ? `"${id}"` : `item ${index}`;
      throw new ConfigError('INTERNAL_USER_IDS', `must list user ids (1 to 128 characters): ${shown} ${parsed.error.issues[0]!.message}`);
    }
    return storedUserId(parsed.data);
  });
}

/** INTERACTION_TYPES: the types that count, comma-separated; unset keeps the seed's (every type it named but page_view). */
function countingTypesFromEnv(env: Env): ReadonlySet<string> {
  const types = listFromEnv(env, 'INTERACTION_TYPES');
  if (types.length === 0) return new Set(DEFAULT_COUNTING_TYPES);
  const bad = types.find((type) => !INTERACTION_TYPE.test(type));
  if (bad !== undefined) {
    throw new ConfigError('INTERACTION_TYPES', `must be comma-separated types of 1 to 50 characters from a-z, 0-9 and _ . : -, got "${bad}"`);
  }
  return new Set(types);
}

function productNameFromEnv(env: Env): string | null {
  const name = env.PRODUCT_NAME?.trim();
  if (!name) return null;
  if ([...name].length > 60 || CONTROL.test(name)) {
    throw new ConfigError('PRODUCT_NAME', `must be at most 60 characters on one line, got "${name.slice(0, 80)}"`);
  }
  return name;
}

/** TEAM_TIME_ZONE, checked against the time zones this Node knows, and spelled as Intl spells it. */
export function timeZoneFromEnv(env: Env): string {
  const raw = env.TEAM_TIME_ZONE?.trim();
  if (!raw) return 'UTC';
  const problem = `must be an IANA time zone such as Europe/Berlin, America/New_York or UTC, got "${raw}"`;
  if (!IANA_NAME.test(raw)) throw new ConfigError('TEAM_TIME_ZONE', problem);
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: raw }).resolvedOptions().timeZone;
  } catch {
    throw new ConfigError('TEAM_TIME_ZONE', problem);
  }
}

function checkInFromEnv(env: Env): TeamSettings['checkIn'] {
  const raw = env.CHECK_IN_DAY?.trim().toLowerCase() || 'fri';
  const day = WEEKDAYS.find((name) => raw === name || (raw.length > 3 && new RegExp(`^${name}[a-z]*day$`).test(raw)));
  if (day === undefined) throw new ConfigError('CHECK_IN_DAY', `must be a day of the week such as fri or friday, got "${env.CHECK_IN_DAY}"`);
  const hour = numberFromEnv(env, 'CHECK_IN_HOUR', 9, { integer: true });
  if (hour > 23) throw new ConfigError('CHECK_IN_HOUR', `must be a whole number from 0 to 23, got "${env.CHECK_IN_HOUR}"`);
  return { day, hour };
}

function ipStorageFromEnv(env: Env): IpStorage {
  const raw = env.STORE_IP?.trim().toLowerCase() || 'none';
  const choice = IP_STORAGE.find((option) => option === raw);
  if (choice === undefined) throw new ConfigError('STORE_IP', `must be none or truncated, got "${env.STORE_IP}"`);
  return choice;
}

/** MILESTONES (JSON) or MILESTONES_FILE (a JSON file, read by `readFile`), never both; none when neither is set. */
function milestonesFromEnv(env: Env, countingTypes: ReadonlySet<string>, readFile?: ReadConfigFile): readonly Milestone[] {
  const path = env.MILESTONES_FILE?.trim();
  const inline = env.MILESTONES?.trim();
  if (path && inline) throw new ConfigError('MILESTONES_FILE', 'and MILESTONES are both set: use one');
  let variable = 'MILESTONES';
  let text = inline;
  if (path) {
    if (!readFile) throw new ConfigError('MILESTONES_FILE', `cannot be read here: set MILESTONES to the file's JSON instead (${path})`);
    try {
      text = readFile(path);
    } catch (error) {
      throw new ConfigError('MILESTONES_FILE', `could not be read: ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).name})`);
    }
    variable = 'MILESTONES_FILE';
  }
  const milestones = parseMilestones(text);
  if (!milestones.ok) throw new ConfigError(variable, path ? `${path}: ${milestones.problem}` : milestones.problem);
  const paying = milestones.value.findIndex((milestone) => milestone.measure === 'paying_users');
  if (paying >= 0 && !countingTypes.has(PAYMENT_TYPE)) {
    throw new ConfigError(
      variable,
      `[${paying}] ("${milestones.value[paying]!.name}").measure is paying_users, which counts real users with a ${PAYMENT_TYPE} interaction, and ${PAYMENT_TYPE} is not in INTERACTION_TYPES`,
    );
  }
  return milestones.value;
}

/** Reads and validates the configuration once; the message names the variable at fault. */
export function loadConfig(env: Env, readFile?: ReadConfigFile): Config {
  const warningDays = numberFromEnv(env, 'WARNING_DAYS', 1);
  const criticalDays = numberFromEnv(env, 'CRITICAL_DAYS', 7);
  if (criticalDays <= warningDays) {
    throw new ConfigError('CRITICAL_DAYS', `must be greater than WARNING_DAYS (${warningDays}), got ${criticalDays}`);
  }
  const userIds = internalUserIdsFromEnv(env);
  const emailDomains = listFromEnv(env, 'INTERNAL_EMAIL_DOMAINS').map((domain) => domain.replace(/^@/, '').toLowerCase());
  const badDomain = emailDomains.find((domain) => !DOMAIN.test(domain));
  if (badDomain !== undefined) {
    throw new ConfigError('INTERNAL_EMAIL_DOMAINS', `must be comma-separated domains like example.com, got "${badDomain}"`);
  }
  const countingTypes = countingTypesFromEnv(env);
  return {
    warningDays,
    criticalDays,
    dauTarget: numberFromEnv(env, 'DAU_TARGET', 10, { integer: true }),
    mauTarget: numberFromEnv(env, 'MAU_TARGET', 50, { integer: true }),
    baselineDate: baselineFromEnv(env),
    internal: { userIds: new Set(userIds), emailDomains: new Set(emailDomains) },
    countingTypes,
    milestones: milestonesFromEnv(env, countingTypes, readFile),
    team: { productName: productNameFromEnv(env), timeZone: timeZoneFromEnv(env), checkIn: checkInFromEnv(env) },
    storeIp: ipStorageFromEnv(env),
  };
}
