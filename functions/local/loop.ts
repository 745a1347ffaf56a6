import { alertStateFor, PUBLISH_INTERVAL_SECONDS, STALE_AFTER_INTERVALS, transition, type AlertState, type NumberState } from '../core/alerts.js';
import { ConfigError, numberFromEnv } from '../core/config.js';
import { days } from '../core/slack-messages.js';
import { dueCheckIn } from '../core/weekly-report.js';
import type { Reading } from '../core/published-figures.js';
import { slackPoster, SlackWebhookRejectedError, type SlackPoster } from '../aws/slack-webhook.js';
import { webhookUrlFrom, WebhookUrlError } from '../aws/webhook-secret.js';
import { configFingerprint } from '../core/snapshot.js';
import { baselineOf, readLastAnnouncement, recordAnnouncement } from '../db/alerts.js';
import { readLastPostedSlot } from '../db/check-ins.js';
import { announce, type AlertingDeps } from '../handlers/notify-slack.js';
import { bufferedFigures, readingFromFigures, type FigureSource } from '../handlers/figures.js';
import { takeSnapshot } from '../db/snapshot.js';
import type { ServiceDeps } from '../handlers/service.js';
import type { Env } from '../handlers/runtime.js';
import { postWeeklyCheckIn } from '../handlers/weekly-report.js';
import { memorySnapshotStore, type MemorySnapshotStore } from './snapshot-store.js';


export interface LoopSettings {
  /** 0: no loop (PUBLISH_INTERVAL_SECONDS=0). */
  intervalMs: number;
  slackWebhookUrl: URL | null;
  dashboardUrl: string | null;
}

/** PUBLISH_INTERVAL_SECONDS (default 300, as the AWS schedule), SLACK_WEBHOOK_URL and DASHBOARD_URL, checked at start. */
export function loadLoopSettings(env: Env): LoopSettings {
  const seconds = numberFromEnv(env, 'PUBLISH_INTERVAL_SECONDS', PUBLISH_INTERVAL_SECONDS);
  let slackWebhookUrl: URL | null;
  try {
    slackWebhookUrl = webhookUrlFrom(env.SLACK_WEBHOOK_URL, 'SLACK_WEBHOOK_URL');
  } catch (error) {
    if (error instanceof WebhookUrlError) throw new ConfigError('SLACK_WEBHOOK_URL', error.message.replace(/^SLACK_WEBHOOK_URL /, ''));
    throw error;
  }
  if (slackWebhookUrl === null && env.SLACK_WEBHOOK_URL?.trim()) {
    throw new ConfigError('SLACK_WEBHOOK_URL', 'must be the webhook URL, starting with https://');
  }
  return { intervalMs: Math.round(seconds * 1000), slackWebhookUrl, dashboardUrl: env.DASHBOARD_URL?.trim() || null };
}

export type Print = (line: string) => void;

export interface TickReport {
  reading: Reading | null;
  observed: AlertState | null;
  /** The state change this tick found, if any, and what became of its message. */
  announced: { from: AlertState | null; to: AlertState; outcome: string } | null;
  checkIn: string | null;
}

export interface PublisherLoop {
  /** One round: read, log, compare, announce, check in. What the timer runs; tests call it directly too. */
  tick(): Promise<TickReport>;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

const STATE_WORDS: Record<NumberState, string> = {
  no_users_yet: 'no real user yet',
  healthy: 'healthy',
  warning: 'warning',
  critical: 'critical',
};

function figuresLine(reading: Reading, state: NumberState): string {
  const since = reading.lastRealInteractionAt === null ? 'since the baseline' : 'since the last real user interaction';
  return `[publisher] ${reading.at.toISOString()} ${days(reading.days)} ${since} (${STATE_WORDS[state]}) · DAU ${reading.dau} · WAU ${reading.wau} · MAU ${reading.mau} · total real users ${reading.totalRealUsers}`;
}

/** Without a webhook, messages go to the terminal: a team without Slack still sees them. */
function terminalPoster(print: Print): SlackPoster {
  return async (message) => {
    print(`[slack not connected] ${message.text.replace(/\n/g, '\n    ')}`);
    return 'not_connected';
  };
}

/** The loop's dependencies: the alerting ones, whose figures come from a snapshot, as the Lambda publisher's do. */
export type LoopDeps = AlertingDeps;

/**
 * The figures as the publisher reads them in AWS (a snapshot, by the same rules), over the local database: nothing is
 * buffered locally, so "folding" is taking a new snapshot, needed whenever the local ingest has recorded something.
 */
export function localFigures(deps: Pick<ServiceDeps, 'db' | 'config' | 'log' | 'now'>, snapshots: MemorySnapshotStore, baseline: (now: Date) => Promise<Date>): FigureSource {
  const fingerprint = configFingerprint(deps.config);
  const fold = () =>
    snapshots.refresh(async () => {
      const now = deps.now();
      const { internal, countingTypes } = deps.config;
      const snapshot = await takeSnapshot(deps.db, { internal, countingTypes, fingerprint, baseline: await baseline(now) }, now);
      return { takenAt: now, fingerprint, snapshot, folded: new Set<string>() };
    });
  // Nothing waits to be folded before a read of the database: the local ingest recorded it already.
  return { ...bufferedFigures({ ...deps, snapshots, pending: async () => [], fold, baseline }), foldFirst: async () => {} };
}

/** The loop's dependencies: the service's, plus Slack from SLACK_WEBHOOK_URL and the snapshot the local ingest invalidates. */
export function localAlertingDeps(deps: ServiceDeps, settings: LoopSettings, print: Print, snapshots: MemorySnapshotStore = memorySnapshotStore()): LoopDeps {
  const url = settings.slackWebhookUrl;
  const baseline = baselineOf(deps.db, deps.config);
  return {
    ...deps,
    figures: localFigures(deps, snapshots, baseline),
    slack: url
      ? slackPoster(async () => url, {
          fetch,
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          now: Date.now,
          log: { warn: (message, extra) => print(`[slack] ${message} ${JSON.stringify(extra)}`) },
        })
      : terminalPoster(print),
    dashboardUrl: settings.dashboardUrl,
    baseline,
  };
}

const nameOf = (error: unknown) => (error as Error)?.name ?? typeof error;

/**
 * The local stand-in for the 5-minute schedule and the alarms: every interval it reads the number, logs
 * each figure, and tells Slack about each change of state with the same rule and words as AWS; at the
 * check-in time (CHECK_IN_DAY, CHECK_IN_HOUR in TEAM_TIME_ZONE) it posts the check-in.
 */
export function createPublisherLoop(deps: LoopDeps, intervalMs: number, print: Print): PublisherLoop {
  const startedAt = deps.now();
  const readNumber = async (now: Date) => readingFromFigures((await deps.figures.current(now)).figures, now);
  let lastReadAt: Date | null = null;
  // undefined: not loaded from the database yet.
  let lastState: AlertState | null | undefined;
  let lastPostedSlot: Date | null | undefined;
  let checkInTried: number | null = null;

  async function knownState(): Promise<AlertState | null> {
    if (lastState === undefined) {
      try {
        lastState = (await readLastAnnouncement(deps.db))?.state ?? null;
      } catch {
        return null;
      }
    }
    return lastState;
  }

  async function announceChange(observed: AlertState, reading: Reading | null): Promise<TickReport['announced']> {
    const change = transition(await knownState(), observed);
    if (change === null) return null;
    try {
      const outcome = await announce(deps, change, { reading, dashboardUrl: deps.dashboardUrl, lastReportedAt: lastReadAt }, 'local');
      lastState = change.to;
      print(`[alerts] ${change.from ?? 'start'} → ${change.to}: ${outcome}`);
      return { from: change.from, to: change.to, outcome };
    } catch (error) {
      print(`[alerts] could not tell Slack about ${change.to}: ${(error as Error).message}`);
      if (!(error instanceof SlackWebhookRejectedError)) return { from: change.from, to: change.to, outcome: 'failed' };
      // A revoked webhook will not come back: note the state, or every round would try again.
      lastState = change.to;
      await recordAnnouncement(deps.db, { state: change.to, at: deps.now(), days: reading?.days ?? null, posted: false, source: 'local' }).catch(
        () => {},
      );
      return { from: change.from, to: change.to, outcome: 'rejected' };
    }
  }

  async function checkIn(now: Date): Promise<string | null> {
    lastPostedSlot ??= await readLastPostedSlot(deps.db);
    const slot = dueCheckIn(now, lastPostedSlot, deps.config.team);
    if (slot === null || checkInTried === slot.getTime()) return null;
    checkInTried = slot.getTime();
    try {
      const outcome = await postWeeklyCheckIn(deps, slot);
      if (outcome !== 'not_connected') lastPostedSlot = slot;
      print(`[check-in] ${slot.toISOString()}: ${outcome}`);
      return outcome;
    } catch (error) {
      // A failed post is tried again next round.
      checkInTried = null;
      print(`[check-in] could not post: ${(error as Error).message}`);
      return 'failed';
    }
  }

  async function tick(): Promise<TickReport> {
    const now = deps.now();
    let reading: Reading | null = null;
    let observed: AlertState | null = null;
    try {
      reading = await readNumber(now);
      lastReadAt = now;
      observed = alertStateFor(reading, deps.config);
      print(figuresLine(reading, observed));
    } catch (error) {
      print(`[publisher] could not read the number: ${nameOf(error)}`);
      const since = lastReadAt ?? startedAt;
      if (now.getTime() - since.getTime() >= STALE_AFTER_INTERVALS * intervalMs) observed = 'stale';
    }
    const announced = observed === null ? null : await announceChange(observed, reading);
    return { reading, observed, announced, checkIn: reading === null ? null : await checkIn(now) };
  }

  return { tick, stop: async () => {} };
}

/** Runs the loop on a timer: a round at start, then one every interval, never two at once. */
export function startPublisherLoop(deps: LoopDeps, intervalMs: number, print: Print): PublisherLoop {
  const loop = createPublisherLoop(deps, intervalMs, print);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const round = () => {
    running = loop
      .tick()
      .catch((error: unknown) => print(`[publisher] round failed: ${nameOf(error)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(round, intervalMs);
      });
  };
  round();
  return {
    tick: loop.tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
