import type { BufferedInteraction } from '../core/buffer.js';
import type { Config } from '../core/config.js';
import { currentFigures, type CurrentFigures } from '../core/current-figures.js';
import { daysBefore, type Headline } from '../core/metric.js';
import { readingOf, type Reading } from '../core/published-figures.js';
import { configFingerprint, type SnapshotRecord, type SnapshotStore } from '../core/snapshot.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../db/metrics.js';
import type { Database } from '../db/port.js';
import type { ServiceDeps } from './service.js';

/** What waits in the buffer, beside the figures: the publisher reports its age, and folds early when it grows. */
export interface BufferState {
  waiting: number;
  /** When the oldest waiting interaction was accepted (epoch ms); null: none waits. */
  oldestReceivedAt: number | null;
}

export interface FiguresNow {
  figures: CurrentFigures;
  buffer: BufferState;
}

/**
 * Where the number, the summary and the publisher's figures come from. In AWS: the snapshot plus the buffer, with no Aurora
 * call while only the buffer changed; locally, or when a snapshot cannot say: Aurora itself, once the buffer is folded.
 */
export interface FigureSource {
  /** Everything the summary and the publisher show, at `now`. */
  current(now: Date): Promise<FiguresNow>;
  /** The headline alone (locally one indexed read; in AWS the same as current()). */
  headline(now: Date): Promise<Headline>;
  /** Puts everything buffered into Aurora, before a read of Aurora that must not miss it (milestones, history, the check-in). */
  foldFirst(): Promise<void>;
}

const nothingWaits: BufferState = { waiting: 0, oldestReceivedAt: null };

/** Every figure read from the database as it is now. */
export async function readDatabaseFigures(
  db: Database,
  config: Pick<Config, 'internal' | 'countingTypes'>,
  baseline: (now: Date) => Promise<Date>,
  now: Date,
): Promise<CurrentFigures> {
  const [pulse, lastByType, exclusions, start] = await Promise.all([
    readPulse(db, config.internal, now),
    readLastRealByType(db, config.internal, config.countingTypes),
    readExclusions(db, config.internal, daysBefore(now, 7)),
    baseline(now),
  ]);
  return { pulse, lastByType, exclusions, baseline: start };
}

/** The local source: the database records at once, so it is always up to date and always awake. */
export function databaseFigures(deps: Pick<ServiceDeps, 'db' | 'config'> & { baseline: (now: Date) => Promise<Date> }): FigureSource {
  return {
    current: async (now) => ({ figures: await readDatabaseFigures(deps.db, deps.config, deps.baseline, now), buffer: nothingWaits }),
    headline: () => readHeadline(deps.db, deps.config.internal),
    foldFirst: async () => {},
  };
}

export interface BufferedFiguresDeps extends Pick<ServiceDeps, 'db' | 'config' | 'log'> {
  snapshots: Pick<SnapshotStore, 'read'>;
  /** What waits in the buffer (locally: nothing). */
  pending: () => Promise<BufferedInteraction[]>;
  /** Folds everything waiting, takes a snapshot and saves it; returns the record saved. */
  fold: () => Promise<SnapshotRecord>;
  baseline: (now: Date) => Promise<Date>;
}

/**
 * The snapshot plus the buffer, by the rules of functions/core/current-figures.ts. When they cannot give the exact figures
 * (no snapshot, another configuration, someone newly internal, more users than a snapshot keeps, a user being forgotten or
 * un-marked), it folds first and
 * reads the new snapshot, or Aurora itself.
 */
export function bufferedFigures(deps: BufferedFiguresDeps): FigureSource {
  const fingerprint = configFingerprint(deps.config);
  async function current(now: Date): Promise<FiguresNow> {
    const [record, pending] = await Promise.all([deps.snapshots.read(), deps.pending()]);
    const combined = currentFigures(record, pending, deps.config, fingerprint, now);
    if (combined.kind === 'exact') {
      const waiting = pending.filter((item) => !record!.folded.has(item.event_id));
      const oldestReceivedAt = waiting.length === 0 ? null : Math.min(...waiting.map((item) => item.receivedAt));
      return { figures: combined.figures, buffer: { waiting: waiting.length, oldestReceivedAt } };
    }
    deps.log.info('folding the buffer before reading', { why: combined.why, waiting: pending.length });
    const saved = await deps.fold();
    const after = currentFigures(saved, [], deps.config, fingerprint, now);
    const figures = after.kind === 'exact' ? after.figures : await readDatabaseFigures(deps.db, deps.config, deps.baseline, now);
    return { figures, buffer: nothingWaits };
  }
  return {
    current,
    headline: async (now) => (await current(now)).figures.pulse,
    foldFirst: async () => void (await deps.fold()),
  };
}

/** The published reading from the figures. */
export const readingFromFigures = (figures: CurrentFigures, now: Date): Reading => readingOf(figures.pulse, figures.baseline, now);
