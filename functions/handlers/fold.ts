import { randomUUID } from 'node:crypto';
import { chooseFoldBatch, statementsOf, type FoldLease, type InteractionBuffer } from '../core/buffer.js';
import { configFingerprint, type SnapshotRecord, type SnapshotStore } from '../core/snapshot.js';
import { recordInteractions } from '../db/interactions.js';
import { DatabaseUnavailableError } from '../db/port.js';
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

/**
 * Folds the buffer into Aurora, one fold at a time (the lease), with the same recording statement as ingest used to:
 * records a batch (idempotent on event_id), takes a snapshot of the result, saves it with the batch's event_ids, and only
 * then takes the batch out of the buffer. Readers combine a snapshot with the buffer less those ids, so nothing counts
 * twice and nothing is missed at any step; a fold that dies at any step leaves what the next one needs (the intent).
 * Stages repeat until everything pending when it started is folded, or time runs short.
 */
export async function foldBuffer(deps: FoldDeps): Promise<FoldReport> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const holder = randomUUID();
  const fingerprint = configFingerprint(deps.config);
  let leased = await deps.lease.acquire(holder, deps.deadline() + LEASE_MARGIN_MS, deps.now().getTime());
  while (leased === null) {
    if (deps.now().getTime() + LEASE_POLL_MS + STAGE_TIME_MS > deps.deadline()) throw new DatabaseUnavailableError(BUSY_RETRY_AFTER_SECONDS);
    await sleep(LEASE_POLL_MS);
    leased = await deps.lease.acquire(holder, deps.deadline() + LEASE_MARGIN_MS, deps.now().getTime());
  }
  let completed = false;
  try {
    let intent = leased.intent;
    let folded = 0;
    const startedAt = deps.now().getTime();
    for (;;) {
      const [previous, pending] = await Promise.all([deps.snapshots.read(), deps.buffer.pending()]);
      const batch = chooseFoldBatch(pending, new Set([...(previous?.folded ?? []), ...intent]));
      const needsSnapshot = previous === null || previous.fingerprint !== fingerprint || batch.length > 0;
      if (!needsSnapshot) {
        // Whatever a failed fold meant to record is no longer pending: the saved snapshot holds it.
        completed = true;
        return { record: previous, folded, left: 0 };
      }
      const ids = idsOf(batch);
      if (batch.length > 0) {
        await deps.lease.noteIntent(holder, ids);
        for (const statement of statementsOf(batch.map(({ receivedAt: _, ...interaction }) => interaction))) {
          await recordInteractions(deps.db, statement, deps.config.internal.emailDomains);
        }
      }
      const now = deps.now();
      const snapshot = await takeSnapshot(deps.db, { internal: deps.config.internal, fingerprint, baseline: await deps.baseline(now) }, now);
      const record: SnapshotRecord = { takenAt: now, fingerprint, snapshot, folded: new Set(ids) };
      await deps.snapshots.save(record);
      if (snapshot === null) deps.log.info('more users than a snapshot keeps: readers read the database', { folded: ids.length });
      await deps.buffer.markFolded(ids, now);
      intent = new Set();
      folded += ids.length;
      completed = true;
      const chosen = new Set(ids);
      const olderLeft = pending.filter((item) => item.receivedAt <= startedAt && !chosen.has(item.event_id)).length;
      if (olderLeft === 0 || deps.now().getTime() + STAGE_TIME_MS > deps.deadline()) {
        return { record, folded, left: pending.length - ids.length };
      }
      completed = false;
    }
  } finally {
    await deps.lease.release(holder, completed).catch((error: unknown) => {
      deps.log.warn('could not release the fold lease: it lapses by itself', { errorName: (error as Error)?.name });
    });
  }
}
