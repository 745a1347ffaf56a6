import * as z from 'zod/mini';
import { ConfigError } from './config.js';

export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** One CloudWatch alarm state change, whichever of the three notification formats it came in. */
export interface AlarmNotification {
  alarmName: string;
  alarmArn: string | null;
  description: string | null;
  newState: AlarmState;
  oldState: AlarmState | null;
  reason: string;
  changedAt: Date;
  /** metric: one metric; metric_math: an expression over metrics; composite: a rule over other alarms. */
  format: 'metric' | 'metric_math' | 'composite';
  /** Metric names the alarm watches (for metric math, every metric the expression reads). */
  metricNames: string[];
  /** How long the condition was watched before the change: period x evaluation periods. Null for composite. */
  windowSeconds: number | null;
  /** The alarms that flipped a composite alarm, by ARN. */
  triggeringChildren: string[];
}

/** An SNS message on the alerts topic that is not a CloudWatch alarm notification. */
export class NotAnAlarmError extends Error {
  override name = 'NotAnAlarmError';
}

const State = z.enum(ALARM_STATES);

const MetricTrigger = z.looseObject({
  MetricName: z.string(),
  Namespace: z.optional(z.nullable(z.string())),
  Period: z.number(),
  EvaluationPeriods: z.number(),
});

const MathTrigger = z.looseObject({
  Period: z.number(),
  EvaluationPeriods: z.number(),
  Metrics: z.array(
    z.looseObject({
      Id: z.string(),
      Expression: z.optional(z.string()),
      MetricStat: z.optional(z.looseObject({ Metric: z.looseObject({ MetricName: z.string() }) })),
    }),
  ),
});

// TriggeringChildren is documented as strings and sent as {Arn, State} objects; take either.
const Child = z.union([z.string(), z.looseObject({ Arn: z.string() })]);

const AlarmMessage = z.looseObject({
  AlarmName: z.string().check(z.minLength(1)),
  AlarmArn: z.optional(z.nullable(z.string())),
  AlarmDescription: z.optional(z.nullable(z.string())),
  NewStateValue: State,
  OldStateValue: z.optional(z.nullable(State)),
  NewStateReason: z.optional(z.nullable(z.string())),
  StateChangeTime: z.string(),
  Trigger: z.optional(z.union([MetricTrigger, MathTrigger])),
  AlarmRule: z.optional(z.string()),
  TriggeringChildren: z.optional(z.array(Child)),
});

const SnsEvent = z.looseObject({
  Records: z.array(z.looseObject({ Sns: z.looseObject({ Message: z.string() }) })),
});

const isMathTrigger = (trigger: unknown): trigger is z.infer<typeof MathTrigger> =>
  Array.isArray((trigger as { Metrics?: unknown }).Metrics);

/** CloudWatch writes `+0000`; ISO 8601 (and every parser) agrees on `+00:00`. */
function parseChangeTime(value: string): Date {
  const date = new Date(value.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  if (Number.isNaN(date.getTime())) throw new NotAnAlarmError('StateChangeTime is not a date');
  return date;
}

/** Reads one SNS message body as an alarm notification (metric, metric-math or composite format). */
export function parseAlarmMessage(message: string): AlarmNotification {
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    throw new NotAnAlarmError('the message is not JSON');
  }
  const parsed = z.safeParse(AlarmMessage, json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotAnAlarmError(`${issue.path.join('.') || '(message)'}: ${issue.message}`);
  }
  const alarm = parsed.data;
  const trigger = alarm.Trigger;
  const common = {
    alarmName: alarm.AlarmName,
    alarmArn: alarm.AlarmArn ?? null,
    description: alarm.AlarmDescription ?? null,
    newState: alarm.NewStateValue,
    oldState: alarm.OldStateValue ?? null,
    reason: alarm.NewStateReason ?? '',
    changedAt: parseChangeTime(alarm.StateChangeTime),
  };
  if (alarm.AlarmRule !== undefined) {
    return {
      ...common,
      format: 'composite',
      metricNames: [],
      windowSeconds: null,
      triggeringChildren: (alarm.TriggeringChildren ?? []).map((child) => (typeof child === 'string' ? child : child.Arn)),
    };
  }
  if (trigger === undefined) throw new NotAnAlarmError('Trigger: is required for a metric alarm');
  const windowSeconds = trigger.Period * trigger.EvaluationPeriods;
  if (isMathTrigger(trigger)) {
    return {
      ...common,
      format: 'metric_math',
      metricNames: trigger.Metrics.flatMap((query) => (query.MetricStat ? [query.MetricStat.Metric.MetricName] : [])),
      windowSeconds,
      triggeringChildren: [],
    };
  }
  return { ...common, format: 'metric', metricNames: [trigger.MetricName], windowSeconds, triggeringChildren: [] };
}

/**
 * The SNS messages of a Lambda event, each read as an alarm notification or the reason it is not one.
 * One bad message must not stop the others.
 */
export function alarmNotificationsOf(event: unknown): Array<AlarmNotification | NotAnAlarmError> {
  const parsed = z.safeParse(SnsEvent, event);
  if (!parsed.success) return [new NotAnAlarmError('the event is not an SNS event')];
  return parsed.data.Records.map((record) => {
    try {
      return parseAlarmMessage(record.Sns.Message);
    } catch (error) {
      if (error instanceof NotAnAlarmError) return error;
      throw error;
    }
  });
}

/** What each alarm of the stack stands for, so the notifier knows which message to send. */
export const ALARM_ROLES = ['warning', 'critical', 'stale', 'operations'] as const;
export type AlarmRole = (typeof ALARM_ROLES)[number];

const RolesSchema = z.record(z.string(), z.enum(ALARM_ROLES));

/** ALARM_ROLES: JSON from alarm name to role, written by the stack. Alarms not named are operations alarms. */
export function alarmRolesFromEnv(env: Readonly<Record<string, string | undefined>>): ReadonlyMap<string, AlarmRole> {
  const raw = env.ALARM_ROLES?.trim();
  if (!raw) return new Map();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('ALARM_ROLES', 'must be JSON like {"alarm-name":"critical"}');
  }
  const parsed = z.safeParse(RolesSchema, json);
  if (!parsed.success) throw new ConfigError('ALARM_ROLES', `must map alarm names to one of ${ALARM_ROLES.join(', ')}`);
  return new Map(Object.entries(parsed.data));
}

/**
 * An alarm's first evaluation after it was created: INSUFFICIENT_DATA to OK. Nothing was reported that could have
 * cleared, so a new stack (or a new alarm) says nothing: no RESOLVED in Slack, no read that wakes Aurora.
 */
export const isFirstEvaluation = (notification: AlarmNotification): boolean =>
  notification.newState === 'OK' && notification.oldState === 'INSUFFICIENT_DATA';

export function roleOf(notification: AlarmNotification, roles: ReadonlyMap<string, AlarmRole>): AlarmRole {
  return roles.get(notification.alarmName) ?? 'operations';
}
