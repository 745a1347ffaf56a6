import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import {
  alarmNotificationsOf,
  alarmRolesFromEnv,
  isFirstEvaluation,
  NotAnAlarmError,
  roleOf,
  type AlarmNotification,
  type AlarmRole,
} from '../core/alarm-notification.js';
import { alertStateFor, STALE_AFTER_SECONDS, stateFromAlarm, transition, type Transition } from '../core/alerts.js';
import { stringFromEnv } from '../core/config.js';
import type { Reading } from '../core/published-figures.js';
import { alertMessage, operationsMessage, type AlertFacts } from '../core/slack-messages.js';
import { slackPoster, type SlackOutcome, type SlackPoster } from '../aws/slack-webhook.js';
import { webhookFromSecret } from '../aws/webhook-secret.js';
import { baselineOf, readLastAnnouncement, recordAnnouncement } from '../db/alerts.js';
import { readingFromFigures, type FigureSource } from './figures.js';
import { awsFigures } from './aws-folding.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

/** What the alerting handlers (and the local loop) are given on top of the API's dependencies. */
export interface AlertingDeps extends ServiceDeps {
  /** The number as the publisher reads it (snapshot + buffer in AWS), and the fold before reading Aurora. */
  figures: FigureSource;
  /** Posts to the team's Slack, or says it is not connected. */
  slack: SlackPoster;
  dashboardUrl: string | null;
  baseline: (now: Date) => Promise<Date>;
}

const errorFields = (error: unknown) => ({ errorName: (error as Error)?.name ?? typeof error });

/**
 * Tells Slack about a change of state when it is worth a message, then records it as the state to compare
 * the next change with. The same path for an alarm in AWS and for the local loop.
 */
export async function announce(deps: AlertingDeps, change: Transition, facts: AlertFacts, source: string): Promise<SlackOutcome | 'silent'> {
  const outcome = change.announce ? await deps.slack(alertMessage(change, facts, deps.config, deps.now())) : 'silent';
  if (outcome === 'not_connected') deps.log.warn('Slack is not connected: the message was not sent', { state: change.to });
  try {
    await recordAnnouncement(deps.db, { state: change.to, at: deps.now(), days: facts.reading?.days ?? null, posted: outcome === 'posted', source });
  } catch (error) {
    // The message is out; failing now would only make the retry post it twice.
    deps.log.error('could not record the announcement', { state: change.to, ...errorFields(error) });
  }
  return outcome;
}

async function tryRead<T>(deps: AlertingDeps, what: string, read: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await read() };
  } catch (error) {
    deps.log.warn(`could not read ${what}`, errorFields(error));
    return { error };
  }
}

async function onNumberAlarm(deps: AlertingDeps, alarm: AlarmNotification, role: Exclude<AlarmRole, 'operations'>): Promise<void> {
  const now = deps.now();
  const read = await tryRead(deps, 'the number', async () => readingFromFigures((await deps.figures.current(now)).figures, now));
  const reading: Reading | null = 'value' in read ? read.value : null;
  const observed = stateFromAlarm(role, alarm.newState, reading ? alertStateFor(reading, deps.config) : null);
  if (observed === null) {
    // An OK cannot be told without the number it recovered to: fail, so the retry finds the database awake.
    if ('error' in read && alarm.newState === 'OK') throw read.error;
    deps.log.info('nothing to announce', { alarmName: alarm.alarmName, newState: alarm.newState });
    return;
  }
  const last = await tryRead(deps, 'the last announcement', () => readLastAnnouncement(deps.db));
  // Without the last state, a duplicate message is better than a missed one.
  const change = 'value' in last ? transition(last.value?.state ?? null, observed) : ({ from: null, to: observed, announce: true } as const);
  if (change === null) {
    deps.log.info('already announced', { alarmName: alarm.alarmName, state: observed });
    return;
  }
  // The stale alarm is a composite (it waits for a first number): its window is the one its metric alarm watches.
  const staleWindowSeconds = alarm.windowSeconds ?? STALE_AFTER_SECONDS;
  const lastReportedAt = role === 'stale' ? new Date(alarm.changedAt.getTime() - staleWindowSeconds * 1000) : null;
  const outcome = await announce(deps, change, { reading, dashboardUrl: deps.dashboardUrl, lastReportedAt }, `alarm:${alarm.alarmName}`);
  deps.log.info('announced', { alarmName: alarm.alarmName, from: change.from, to: change.to, outcome });
}

/** (adapter) SNS event --> alarm notifications --> state change --> Slack. */
export function createNotifySlackHandler(deps: AlertingDeps, roles: ReadonlyMap<string, AlarmRole>): (event: SNSEvent) => Promise<void> {
  return async (event) => {
    for (const alarm of alarmNotificationsOf(event)) {
      if (alarm instanceof NotAnAlarmError) {
        // Someone published by hand to the topic: nothing a retry could fix.
        deps.log.warn('not an alarm notification; ignored', { problem: alarm.message });
        continue;
      }
      if (isFirstEvaluation(alarm)) {
        deps.log.info('first evaluation of a new alarm: nothing to announce', { alarmName: alarm.alarmName });
        continue;
      }
      const role = roleOf(alarm, roles);
      if (role === 'operations') {
        const outcome = await deps.slack(operationsMessage(alarm, { team: deps.config.team, dashboardUrl: deps.dashboardUrl }));
        deps.log.info('operations alarm', { alarmName: alarm.alarmName, newState: alarm.newState, outcome });
        continue;
      }
      await onNumberAlarm(deps, alarm, role);
    }
  };
}

/** The Slack side of the AWS dependencies: the webhook URL from Secrets Manager, read once. */
export function awsAlertingDeps(
  deps: ServiceDeps,
  env: Readonly<Record<string, string | undefined>>,
  figures: FigureSource = awsFigures(deps, env).figures,
): AlertingDeps {
  const webhookUrl = webhookFromSecret(new SecretsManagerClient({}), stringFromEnv(env, 'SLACK_WEBHOOK_SECRET_ID'));
  return {
    ...deps,
    figures,
    slack: slackPoster(webhookUrl, {
      fetch,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: Date.now,
      log: deps.log,
    }),
    dashboardUrl: env.DASHBOARD_URL?.trim() || null,
    baseline: baselineOf(deps.db, deps.config),
  };
}

export const handler = lazyAwsDeps((deps) => createNotifySlackHandler(awsAlertingDeps(deps, process.env), alarmRolesFromEnv(process.env)));
