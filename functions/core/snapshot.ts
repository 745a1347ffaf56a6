import { createHash } from 'node:crypto';
import type { Config } from './config.js';
import { DAY_MS, type Headline } from './metric.js';
import { readingOf, type PulseFigures, type Reading } from './published-figures.js';

/**
 * Above this many monthly active real users the publisher reads Aurora on every run instead of keeping a
 * snapshot: a product that size keeps Aurora awake with its own traffic, and the snapshot (about 3 bytes a user)
 * stays far below DynamoDB's 400 KB item limit and the Data API's 1 MiB response limit.
 */
export const MAX_SNAPSHOT_USERS = 50_000;

/**
 * How long after an ingest marks the snapshot stale its recording may still commit: the ingest Lambda's 25 s
 * plus the Data API's 45 s statement timeout, rounded up. A snapshot taken inside that window is not trusted.
 */
export const RECORDING_WINDOW_MS = 120_000;

/** What a database read would give at any later instant while nothing new is recorded. */
export interface Snapshot extends Headline {
  takenAt: Date;
  /** The configuration that decided what counts when it was taken (configFingerprint). */
  fingerprint: string;
  /** Where the count starts before the first real user (BASELINE_DATE or the install date). */
  baseline: Date;
  /** The last real time (epoch ms) of each real, non-internal user active in the 30 days before takenAt, ascending. */
  activeLastRealAt: readonly number[];
}

/** A snapshot as stored, with the stale-mark counter it was taken under; snapshot null: over MAX_SNAPSHOT_USERS then. */
export interface SnapshotRecord {
  snapshot: Snapshot | null;
  seenWrites: number;
}

/** The store's whole state, read in one consistent read. */
export interface SnapshotState {
  /** How many times ingest marked the snapshot stale, ever. */
  writes: number;
  /** The end of the last marked recording's window (RECORDING_WINDOW_MS after the mark). */
  dirtyUntil: Date | null;
  record: SnapshotRecord | null;
}

/** Where the snapshot lives: a DynamoDB item in AWS, memory locally. */
export interface SnapshotStore {
  read(): Promise<SnapshotState>;
  /** Ingest, before recording: something may be recorded until `until`. */
  markStale(until: Date): Promise<void>;
  /** Publisher: keeps the record unless one taken under a later mark is there already. */
  save(record: SnapshotRecord): Promise<void>;
}

/** The configuration that decides what counts and what is published: a change makes every snapshot stale. */
export function configFingerprint(config: Pick<Config, 'internal' | 'warningDays' | 'criticalDays' | 'baselineDate'>): string {
  const decisive = {
    internalUserIds: [...config.internal.userIds].sort(),
    internalEmailDomains: [...config.internal.emailDomains].sort(),
    warningDays: config.warningDays,
    criticalDays: config.criticalDays,
    baselineDate: config.baselineDate?.toISOString() ?? null,
  };
  return createHash('sha256').update(JSON.stringify(decisive)).digest('hex').slice(0, 32);
}

export type Freshness =
  | 'fresh'
  | 'missing'
  | 'over_bound'
  | 'other_configuration'
  | 'recorded_since'
  | 'taken_while_recording'
  | 'clock_behind';

/**
 * Whether the stored snapshot still gives exactly what the database would: nothing was marked since it was
 * taken, no marked recording could still commit when it was taken, and the configuration is the same.
 */
export function freshnessOf(state: SnapshotState, fingerprint: string, now: Date): Freshness {
  const { record } = state;
  if (record === null) return 'missing';
  if (record.snapshot === null) return 'over_bound';
  if (record.snapshot.fingerprint !== fingerprint) return 'other_configuration';
  if (state.writes !== record.seenWrites) return 'recorded_since';
  // No mark since the snapshot, so dirtyUntil is the one its refresh saw.
  if (state.dirtyUntil !== null && record.snapshot.takenAt.getTime() <= state.dirtyUntil.getTime()) return 'taken_while_recording';
  // Ageing only works forwards: an earlier clock would need users the snapshot dropped.
  if (now.getTime() < record.snapshot.takenAt.getTime()) return 'clock_behind';
  return 'fresh';
}

/** How many of the ascending times are after `since`. */
function countAfter(ascending: readonly number[], since: number): number {
  let low = 0;
  let high = ascending.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ascending[middle]! > since) high = middle;
    else low = middle + 1;
  }
  return ascending.length - low;
}

/** The pulse at `now` (>= takenAt), as readPulse computes it: active means last real time > now − 24 h / 7 d / 30 d. */
export function pulseAt(snapshot: Snapshot, now: Date): PulseFigures {
  const active = (days: number) => countAfter(snapshot.activeLastRealAt, now.getTime() - days * DAY_MS);
  return {
    lastRealInteractionAt: snapshot.lastRealInteractionAt,
    totalRealUsers: snapshot.totalRealUsers,
    dau: active(1),
    wau: active(7),
    mau: active(30),
  };
}

/** The reading at `now` from a snapshot: the same readingOf the database path uses. */
export function readingFromSnapshot(snapshot: Snapshot, now: Date): Reading {
  return readingOf(pulseAt(snapshot, now), snapshot.baseline, now);
}

interface SnapshotHeader {
  takenAt: number;
  fingerprint: string;
  baseline: number;
  lastRealInteractionAt: number | null;
  totalRealUsers: number;
  activeUsers: number;
}

// A header line of JSON, then the active times as varint deltas: about 3 bytes a user (50,000 users ≈ 150 KB).
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const header: SnapshotHeader = {
    takenAt: snapshot.takenAt.getTime(),
    fingerprint: snapshot.fingerprint,
    baseline: snapshot.baseline.getTime(),
    lastRealInteractionAt: snapshot.lastRealInteractionAt?.getTime() ?? null,
    totalRealUsers: snapshot.totalRealUsers,
    activeUsers: snapshot.activeLastRealAt.length,
  };
  const head = new TextEncoder().encode(`${JSON.stringify(header)}\n`);
  const body: number[] = [];
  let previous = 0;
  for (const time of snapshot.activeLastRealAt) {
    let delta = time - previous;
    if (!Number.isSafeInteger(delta) || delta < 0) throw new RangeError('active times must be ascending whole milliseconds');
    previous = time;
    while (delta >= 128) {
      body.push((delta % 128) | 128);
      delta = Math.floor(delta / 128);
    }
    body.push(delta);
  }
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const newline = bytes.indexOf(10);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline))) as SnapshotHeader;
  const times: number[] = [];
  let previous = 0;
  let position = newline + 1;
  while (times.length < header.activeUsers) {
    let delta = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[position++];
      if (byte === undefined) throw new RangeError('snapshot is truncated');
      delta += (byte & 127) * scale;
      scale *= 128;
      if (byte < 128) break;
    }
    times.push((previous += delta));
  }
  return {
    takenAt: new Date(header.takenAt),
    fingerprint: header.fingerprint,
    baseline: new Date(header.baseline),
    lastRealInteractionAt: header.lastRealInteractionAt === null ? null : new Date(header.lastRealInteractionAt),
    totalRealUsers: header.totalRealUsers,
    activeLastRealAt: times,
  };
}
