import { randomUUID } from 'node:crypto';
import { chooseFoldBatch, statementsOf, type FoldLease, type InteractionBuffer } from '../core/buffer.js';
import { configFingerprint, type Snapshot, type SnapshotRecord, type SnapshotStore } from '../core/snapshot.js';
import { recordInteractions } from '../db/interactions.js';
import { DatabaseUnavailableError, type Database } from '../db/port.js';
import { takeSnapshot } from '../db/snapshot.js';
import type { ServiceDeps } from './service.js';

/** A lease outlives its fold's invocation by this much: a dead fold's lease lapses only once its Lambda is surely gone. */
export const LEASE_MARGIN_MS = 10_000;
/** A stage of the fold starts only with this much time left: recording, a snapshot and a save. */
export const STAGE_TIME_MS = 8_000;
/** How often a fold waiting for another fold's lease looks again. */
const LEASE_POLL_MS = 500;
/** What a caller is told to wait when another fold kept the lease past its time. */
const BUSY_RETRY_AFTER_SECONDS = 5;

export interface FoldDeps extends Pick<ServiceDeps, 'db' | 'config' | 'log' | 'now'> {
  buffer: InteractionBuffer;
  snapshots: SnapshotStore;
  lease: FoldLease;
  baseline: (now: Date) => Promise<Date>;
  /** Epoch ms by which this invocation must have finished (the Lambda's deadline). */
  deadline: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FoldReport {
  /** The record the last stage saved: what readers now combine with the buffer. */
  record: SnapshotRecord;
  folded: number;
  /** Interactions still pending when it stopped (arrived meanwhile, or no time left). */
  left: number;
}

const idsOf = (items: ReadonlyArray<{ event_id: string }>) => items.map((item) => item.event_id);

/** The lease while one holds it: the intent a failed fold left, and whether this holder leaves nothing for the next to finish. */
interface HeldLease {
  holder: string;
  intent: ReadonlySet<string>;
  completed: boolean;
}

/** Runs `work` holding the fold's lease, waiting while another fold holds it; gives it back (with the intent once completed). */
async function underLease<T>(deps: FoldDeps, work: (held: HeldLease) => Promise<T>): Promise<T> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const holder = randomUUID();
  let leased = await deps.lease.acquire(holder, deps.deadline() + LEASE_MARGIN_MS, deps.now().getTime());
  while (leased === null) {
    if (deps.now().getTime() + LEASE_POLL_MS + STAGE_TIME_MS > deps.deadline()) throw new DatabaseUnavailableError(BUSY_RETRY_AFTER_SECONDS);
    await sleep(LEASE_POLL_MS);
    leased = await deps.lease.acquire(holder, deps.deadline() + LEASE_MARGIN_MS, deps.now().getTime());
  }
  const held: HeldLease = { holder, intent: leased.intent, completed: false };
  try {
    return await work(held);
  } finally {
    await deps.lease.release(holder, held.completed).catch((error: unknown) => {
      deps.log.warn('could not release the fold lease: it lapses by itself', { errorName: (error as Error)?.name });
    });
  }
}

/** A snapshot of Aurora as it is now, as every fold takes one. */
async function snapshotNow(deps: FoldDeps, fingerprint: string): Promise<{ now: Date; snapshot: Snapshot | null }> {
  const now = deps.now();
  const { internal, countingTypes } = deps.config;
  return { now, snapshot: await takeSnapshot(deps.db, { internal, countingTypes, fingerprint, baseline: await deps.baseline(now) }, now) };
}

/**
 * Folds the buffer into Aurora, one fold at a time (the lease), with the same recording statement as ingest used to:
 * records a batch (idempotent on event_id), takes a snapshot of the result, saves it with the batch's event_ids, and only
 * then takes the batch out of the buffer. Readers combine a snapshot with the buffer less those ids, so nothing counts
 * twice and nothing is missed at any step; a fold that dies at any step leaves what the next one needs (the intent).
 * Stages repeat until everything pending when it started is folded, or time runs short.
 */
export async function foldBuffer(deps: FoldDeps): Promise<FoldReport> {
  return underLease(deps, (held) => foldStages(deps, held, configFingerprint(deps.config)));
}

async function foldStages(deps: FoldDeps, held: HeldLease, fingerprint: string): Promise<FoldReport> {
  let intent = held.intent;
  let folded = 0;
  const startedAt = deps.now().getTime();
  for (;;) {
    const [previous, pending] = await Promise.all([deps.snapshots.read(), deps.buffer.pending()]);
    const batch = chooseFoldBatch(pending, new Set([...(previous?.folded ?? []), ...intent]));
    const needsSnapshot = previous === null || previous.stale === true || previous.fingerprint !== fingerprint || batch.length > 0;
    if (!needsSnapshot) {
      // Whatever a failed fold meant to record is no longer pending: the saved snapshot holds it.
      held.completed = true;
      return { record: previous, folded, left: 0 };
    }
    const ids = idsOf(batch);
    if (batch.length > 0) {
      await deps.lease.noteIntent(held.holder, ids);
      for (const statement of statementsOf(batch.map(({ receivedAt: _, ...interaction }) => interaction))) {
        await recordInteractions(deps.db, statement, deps.config.internal.emailDomains);
      }
    }
    const { now, snapshot } = await snapshotNow(deps, fingerprint);
    const record: SnapshotRecord = { takenAt: now, fingerprint, snapshot, folded: new Set(ids) };
    await deps.snapshots.save(record);
    if (snapshot === null) deps.log.info('more users than a snapshot keeps: readers read the database', { folded: ids.length });
    await deps.buffer.markFolded(ids, now);
    intent = new Set();
    folded += ids.length;
    held.completed = true;
    const chosen = new Set(ids);
    const olderLeft = pending.filter((item) => item.receivedAt <= startedAt && !chosen.has(item.event_id)).length;
    if (olderLeft === 0 || deps.now().getTime() + STAGE_TIME_MS > deps.deadline()) {
      return { record, folded, left: pending.length - ids.length };
    }
    held.completed = false;
  }
}

/** A change to one user that Aurora makes and the buffer must follow (forgetting, un-marking), which a snapshot cannot show. */
export interface UserChange<T> {
  inDatabase: (db: Database) => Promise<T>;
  /** What the buffer does for the same user: returns how many pending interactions it changed. */
  inBuffer: (buffer: InteractionBuffer) => Promise<number>;
}

/**
 * Changes a user in Aurora and in the buffer under the fold's lease, so no fold records meanwhile, in an order that leaves
 * every read afterwards equal to a recount, and a change that dies half-way no snapshot trusted:
 * 1. fold what is pending, so that the new snapshot cannot hold an interaction that is also still counted from the buffer;
 * 2. save the record stale: from here readers fold (waiting for this lease), and any fold takes a new snapshot;
 * 3. change Aurora; 4. change the buffer (what arrived since 1, and the verdicts remembered for duplicates);
 * 5. take a snapshot and save it, which ends the stale mark.
 */
export async function changeUser<T>(deps: FoldDeps, change: UserChange<T>): Promise<{ database: T; buffered: number }> {
  return underLease(deps, async (held) => {
    const fingerprint = configFingerprint(deps.config);
    // What the fold left pending (no time for more) is not in Aurora: step 4 changes it where it waits. Nothing it folded
    // is pending any more, so the records below name no folded ids: a forgotten event_id accepted again must count.
    await foldStages(deps, held, fingerprint);
    // Nothing changed yet: the fold's own record stands.
    if (deps.now().getTime() + STAGE_TIME_MS > deps.deadline()) throw new DatabaseUnavailableError(BUSY_RETRY_AFTER_SECONDS);
    await deps.snapshots.save({ takenAt: deps.now(), fingerprint, snapshot: null, folded: new Set(), stale: true });
    const database = await change.inDatabase(deps.db);
    const buffered = await change.inBuffer(deps.buffer);
    const { now, snapshot } = await snapshotNow(deps, fingerprint);
    await deps.snapshots.save({ takenAt: now, fingerprint, snapshot, folded: new Set() });
    return { database, buffered };
  });
}
