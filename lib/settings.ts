import { readFileSync } from 'node:fs';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { DEFAULT_AUTO_PAUSE_SECONDS } from './database.js';
import { ConfigError, loadConfig, numberFromEnv, type Config, type TeamSettings } from '../functions/core/config.js';

/** A CDK context value that cannot be deployed; the message names the key as the user typed it. */
export class ContextError extends Error {
  override name = 'ContextError';
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`context "${key}" ${problem} (set it with -c ${key}=<value> or in cdk.json "context")`);
  }
}

/** Context keys that become the Lambdas' environment, with the variable each one sets (the names `npm start` reads). */
export const METRIC_CONTEXT = {
  warningDays: 'WARNING_DAYS',
  criticalDays: 'CRITICAL_DAYS',
  dauTarget: 'DAU_TARGET',
  mauTarget: 'MAU_TARGET',
  baselineDate: 'BASELINE_DATE',
  internalUserIds: 'INTERNAL_USER_IDS',
  internalEmailDomains: 'INTERNAL_EMAIL_DOMAINS',
  interactionTypes: 'INTERACTION_TYPES',
  milestones: 'MILESTONES',
  // Read at synth, relative to where cdk runs; the Lambdas get its JSON as MILESTONES.
  milestonesFile: 'MILESTONES_FILE',
  productName: 'PRODUCT_NAME',
  teamTimeZone: 'TEAM_TIME_ZONE',
  checkInDay: 'CHECK_IN_DAY',
  checkInHour: 'CHECK_IN_HOUR',
  storeIp: 'STORE_IP',
} as const;

/** What the Lambdas are given: every setting but MILESTONES_FILE, whose JSON they get as MILESTONES. */
type LambdaVariable = Exclude<(typeof METRIC_CONTEXT)[keyof typeof METRIC_CONTEXT], 'MILESTONES_FILE'>;

// retain keeps the data through updates and the stack's deletion, but not through the rollback of a failed first
// deploy (RetainExceptOnCreate): a cluster that never held anything is deleted instead of billing on, once per retry.
const REMOVAL_POLICIES = { retain: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, snapshot: RemovalPolicy.SNAPSHOT, destroy: RemovalPolicy.DESTROY } as const;

/**
 * The removal policy of what goes with the data (the database's network, secret and parameters, the Slack webhook
 * secret): kept the way the data is kept, deleted when the data is snapshotted or deleted.
 */
export function keptAlongside(dataPolicy: RemovalPolicy): RemovalPolicy {
  return dataPolicy === RemovalPolicy.RETAIN || dataPolicy === RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE ? dataPolicy : RemovalPolicy.DESTROY;
}

/** Everything a deployment can be told through context; defaults are the safe, cheap choice. */
export interface DeploySettings {
  /** The Lambdas' configuration, as environment variables (validated by the same loadConfig the Lambdas run). */
  metricEnvironment: Record<LambdaVariable, string>;
  /** The context key that set each of those variables, as the user gave it (milestonesFile for MILESTONES read from a file). */
  contextOfVariable: Readonly<Record<string, string>>;
  /** The bands and targets of that configuration as numbers, for the alarms and the dashboard. */
  thresholds: Pick<Config, 'warningDays' | 'criticalDays' | 'dauTarget' | 'mauTarget'>;
  /** The product's name, the team's time zone and check-in time: the check-in's schedule and the dashboard's header. */
  team: TeamSettings;
  /** Requests per second per API key, steady state. @default 50 */
  throttleRate: number;
  /** Requests allowed in a burst per API key. @default 100 */
  throttleBurst: number;
  /** Aurora Serverless v2 capacity in ACUs; 0 lets the database pause when idle. @default 0 */
  minCapacity: number;
  /** @default 2 */
  maxCapacity: number;
  /** Idle seconds before Aurora pauses at 0 ACU (300 to 86,400, AWS's range). @default 300 */
  autoPauseSeconds: number;
  /** Minutes between folds of the buffer into Aurora (5 to 1,440); chosen with `npm run cost`. @default DEFAULT_FOLD_EVERY_MINUTES */
  foldEveryMinutes: number;
  /** @default true */
  deletionProtection: boolean;
  /** What happens to the database when the stack is deleted. @default retain (RetainExceptOnCreate) */
  removalPolicy: RemovalPolicy;
  /** @default 7 */
  backupRetentionDays: number;
  /** Retention of the Lambda and API access logs. @default 30 */
  logRetention: RetentionDays;
}

/** Minutes between folds unless foldEveryMinutes says otherwise: chosen from `npm run cost` (docs/costs.md). */
export const DEFAULT_FOLD_EVERY_MINUTES = 180;

type Raw = Record<string, string | undefined>;

/** -c values arrive as text, cdk.json values as JSON: there a list may be an array, and milestones a JSON array of objects. */
function contextText(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  // A list whose items hold a comma (a user id may) goes on as JSON, which the configuration reads as well.
  if (Array.isArray(value) && value.every((item) => typeof item !== 'object' || item === null)) {
    return value.some((item) => String(item).includes(',')) ? JSON.stringify(value.map(String)) : value.join(',');
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function contextNumber(raw: Raw, key: string, fallback: number, options: { min?: number; integer?: boolean } = {}): number {
  try {
    return numberFromEnv(raw, key, fallback, options);
  } catch (error) {
    if (error instanceof ConfigError) throw new ContextError(key, error.message.slice(key.length + 1));
    throw error;
  }
}

function contextBoolean(raw: Raw, key: string, fallback: boolean): boolean {
  const value = raw[key]?.trim().toLowerCase();
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ContextError(key, `must be true or false, got "${raw[key]}"`);
}

function contextChoice<T>(raw: Raw, key: string, choices: Readonly<Record<string, T>>, fallback: string): T {
  const value = raw[key]?.trim().toLowerCase() || fallback;
  const choice = choices[value];
  if (choice === undefined) throw new ContextError(key, `must be one of ${Object.keys(choices).join(', ')}, got "${raw[key]}"`);
  return choice;
}

const ENV_TO_CONTEXT: Record<string, string> = Object.fromEntries(Object.entries(METRIC_CONTEXT).map(([key, env]) => [env, key]));

/** Runs the Lambdas' own configuration check at synth time, so a bad value fails `cdk deploy` instead of every request. */
function metricConfiguration(raw: Raw): Pick<DeploySettings, 'metricEnvironment' | 'thresholds' | 'team'> {
  const env = Object.fromEntries(Object.entries(METRIC_CONTEXT).map(([key, name]) => [name, raw[key]?.trim() ?? '']));
  let config;
  try {
    config = loadConfig(env, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const problem = error.message.slice(error.variable.length + 1).replace(/\b[A-Z][A-Z_]+\b/g, (name) => ENV_TO_CONTEXT[name] ?? name);
    throw new ContextError(ENV_TO_CONTEXT[error.variable] ?? error.variable, problem);
  }
  const metricEnvironment = {
    WARNING_DAYS: String(config.warningDays),
    CRITICAL_DAYS: String(config.criticalDays),
    DAU_TARGET: String(config.dauTarget),
    MAU_TARGET: String(config.mauTarget),
    BASELINE_DATE: env.BASELINE_DATE ?? '',
    // JSON whenever an id holds a comma; the Lambdas read either form.
    INTERNAL_USER_IDS: [...config.internal.userIds].some((id) => id.includes(',')) ? JSON.stringify([...config.internal.userIds]) : [...config.internal.userIds].join(','),
    INTERNAL_EMAIL_DOMAINS: [...config.internal.emailDomains].join(','),
    INTERACTION_TYPES: [...config.countingTypes].join(','),
    MILESTONES: config.milestones.length > 0 ? JSON.stringify(config.milestones) : '',
    PRODUCT_NAME: config.team.productName ?? '',
    TEAM_TIME_ZONE: config.team.timeZone,
    CHECK_IN_DAY: config.team.checkIn.day,
    CHECK_IN_HOUR: String(config.team.checkIn.hour),
    STORE_IP: config.storeIp,
  };
  const { warningDays, criticalDays, dauTarget, mauTarget } = config;
  return { metricEnvironment, thresholds: { warningDays, criticalDays, dauTarget, mauTarget }, team: config.team };
}

export const DEPLOY_CONTEXT_KEYS = [
  ...Object.keys(METRIC_CONTEXT),
  'throttleRate',
  'throttleBurst',
  'minCapacity',
  'maxCapacity',
  'autoPauseSeconds',
  'foldEveryMinutes',
  'deletionProtection',
  'removalPolicy',
  'backupRetentionDays',
  'logRetentionDays',
] as const;

/** Reads and checks every deployment setting from CDK context. */
export function readDeploySettings(node: Node): DeploySettings {
  const raw: Raw = Object.fromEntries(DEPLOY_CONTEXT_KEYS.map((key) => [key, contextText(node, key)]));
  // Whether the lists fit a Lambda's 4 KB environment is checked with everything else in it, once the stack exists (environment-size.ts).
  const { metricEnvironment: metric, thresholds, team } = metricConfiguration(raw);

  const minCapacity = contextNumber(raw, 'minCapacity', 0, { min: 0 });
  const maxCapacity = contextNumber(raw, 'maxCapacity', 2, { min: 1 });
  for (const [key, value] of [['minCapacity', minCapacity], ['maxCapacity', maxCapacity]] as const) {
    if (value > 256 || !Number.isInteger(value * 2)) throw new ContextError(key, `must be a multiple of 0.5 ACU up to 256, got ${value}`);
  }
  if (maxCapacity < minCapacity) throw new ContextError('maxCapacity', `must be at least minCapacity (${minCapacity}), got ${maxCapacity}`);

  // AWS accepts 5 minutes to 24 hours; the shortest pauses soonest after the last recording, and costs the least.
  const autoPauseSeconds = contextNumber(raw, 'autoPauseSeconds', DEFAULT_AUTO_PAUSE_SECONDS, { min: 300, integer: true });
  if (autoPauseSeconds > 86_400) throw new ContextError('autoPauseSeconds', `must be between 300 and 86400 seconds, got ${autoPauseSeconds}`);

  // Each fold wakes Aurora for its idle delay: the cost table (npm run cost) weighs this against how fresh Aurora is.
  const foldEveryMinutes = contextNumber(raw, 'foldEveryMinutes', DEFAULT_FOLD_EVERY_MINUTES, { min: 5, integer: true });
  if (foldEveryMinutes > 1_440) throw new ContextError('foldEveryMinutes', `must be between 5 and 1440 minutes, got ${foldEveryMinutes}`);

  const deletionProtection = contextBoolean(raw, 'deletionProtection', true);
  const removalPolicy = contextChoice(raw, 'removalPolicy', REMOVAL_POLICIES, 'retain');
  if (removalPolicy === RemovalPolicy.DESTROY && deletionProtection) {
    throw new ContextError('removalPolicy', 'is destroy, which needs -c deletionProtection=false as well (a protected cluster cannot be deleted)');
  }

  const backupRetentionDays = contextNumber(raw, 'backupRetentionDays', 7, { min: 1, integer: true });
  if (backupRetentionDays > 35) throw new ContextError('backupRetentionDays', `must be between 1 and 35 days, got ${backupRetentionDays}`);

  const logRetentionDays = contextNumber(raw, 'logRetentionDays', 30, { min: 1, integer: true });
  if (!Object.values(RetentionDays).includes(logRetentionDays)) {
    const allowed = Object.values(RetentionDays).filter((days) => typeof days === 'number' && days > 0 && days < 10_000);
    throw new ContextError('logRetentionDays', `must be one of CloudWatch's retention periods (${allowed.join(', ')}), got ${logRetentionDays}`);
  }

  const throttleRate = contextNumber(raw, 'throttleRate', 50, { min: 0 });
  if (throttleRate === 0) throw new ContextError('throttleRate', 'must be more than 0 requests per second');
  return {
    metricEnvironment: metric,
    contextOfVariable: { ...ENV_TO_CONTEXT, ...(raw.milestonesFile ? { MILESTONES: 'milestonesFile' } : {}) },
    thresholds,
    team,
    throttleRate,
    throttleBurst: contextNumber(raw, 'throttleBurst', 100, { min: 1, integer: true }),
    minCapacity,
    maxCapacity,
    autoPauseSeconds,
    foldEveryMinutes,
    deletionProtection,
    removalPolicy,
    backupRetentionDays,
    logRetention: logRetentionDays as RetentionDays,
  };
}
