import { createHash } from 'node:crypto';
import type { InteractionToStore, StoredOutcome } from './recording.js';

/** One accepted interaction while it waits in the buffer for the fold to put it into Aurora. */
export interface BufferedInteraction extends InteractionToStore {
  /** When ingest accepted it (epoch ms): the fold takes the oldest first, and the age alarm watches the oldest. */
  receivedAt: number;
}

/**
 * What a duplicate is answered with, kept with every event_id the buffer has seen: the original's verdict as stored.
 * After the fold only this stays, for DUPLICATE_WINDOW_DAYS.
 */
export type StoredVerdict = Pick<InteractionToStore, 'user_id' | 'exclusion_reason' | 'marked_internal' | 'email_domain'>;

export const storedVerdictOf = (interaction: InteractionToStore): StoredVerdict => ({
  user_id: interaction.user_id,
  exclusion_reason: interaction.exclusion_reason,
  marked_internal: interaction.marked_internal,
  email_domain: interaction.email_domain,
});

/**
 * How long the buffer remembers an event_id after folding it, so a retry is answered as a duplicate without Aurora.
 * Later, a retry is accepted again and the fold finds it in Aurora (unique event_id): nothing changes there.
 */
export const DUPLICATE_WINDOW_DAYS = 35;

/**
 * Partitions the buffer's items are spread over. With a local secondary index an item collection never splits, so each
 * partition key takes at most 1,000 write units a second: 32 of them take 16,000 interactions a second (2 units each).
 */
export const BUFFER_PARTITIONS = 32;

/** The partition of an event_id: stable, so the same event_id always meets its earlier copy. */
export function bufferPartitionOf(eventId: string): string {
  const digest = createHash('sha256').update(eventId, 'utf8').digest();
  return String(digest.readUInt32BE(0) % BUFFER_PARTITIONS).padStart(2, '0');
}

/** A buffer this large is folded by the next publisher run rather than waiting for the schedule. */
export const FOLD_AT_ITEMS = 2_000;

/**
 * Most bytes of event_ids one fold may leave in the snapshot record (the ones it folded but has yet to take out of the
 * buffer): they share the record's 400 KB DynamoDB item with the snapshot itself.
 */
export const MAX_FOLDED_ID_BYTES = 64 * 1024;

/**
 * Chooses what one fold records: every pending interaction that may already be in Aurora without being in the snapshot
 * (`mustInclude`: a crashed fold's intent, or folded ones not yet taken out), then the oldest others while their ids fit.
 */
export function chooseFoldBatch(
  pending: readonly BufferedInteraction[],
  mustInclude: ReadonlySet<string>,
  maxIdBytes = MAX_FOLDED_ID_BYTES,
  maxItems = FOLD_AT_ITEMS,
): BufferedInteraction[] {
  const oldestFirst = [...pending].sort((a, b) => a.receivedAt - b.receivedAt || compareUtf8(a.event_id, b.event_id));
  const chosen = oldestFirst.filter((item) => mustInclude.has(item.event_id));
  let bytes = chosen.reduce((sum, item) => sum + Buffer.byteLength(item.event_id, 'utf8') + 1, 0);
  for (const item of oldestFirst) {
    if (mustInclude.has(item.event_id)) continue;
    const size = Buffer.byteLength(item.event_id, 'utf8') + 1;
    if (chosen.length >= maxItems || bytes + size > maxIdBytes) break;
    chosen.push(item);
    bytes += size;
  }
  return chosen;
}

/** Orders text as PostgreSQL's "C" collation does (by UTF-8 bytes), so both sides break ties the same way. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Most bytes of interactions one recording statement carries: the batch route's own limit, far under the Data API's 4 MiB request. */
export const MAX_FOLD_STATEMENT_BYTES = 1024 * 1024;
/** Most interactions one recording statement carries: the batch route's limit. */
export const MAX_FOLD_STATEMENT_ITEMS = 500;

/** Splits a fold into recording statements of at most MAX_FOLD_STATEMENT_ITEMS items and MAX_FOLD_STATEMENT_BYTES of JSON. */
export function statementsOf<T>(items: readonly T[], maxItems = MAX_FOLD_STATEMENT_ITEMS, maxBytes = MAX_FOLD_STATEMENT_BYTES): T[][] {
  const statements: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item), 'utf8') + 1;
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      statements.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) statements.push(current);
  return statements;
}

/** Where interactions wait for the fold: an on-demand DynamoDB table in AWS. */
export interface InteractionBuffer {
  /**
   * Keeps each interaction durably unless its event_id was seen before (or earlier in the same call): one outcome per
   * interaction, in order, with the original's stored verdict for a duplicate.
   */
  accept(interactions: readonly InteractionToStore[], receivedAt: number): Promise<StoredOutcome[]>;
  /** Every interaction waiting to be folded, including everything an accept already answered for. */
  pending(): Promise<BufferedInteraction[]>;
  /** Takes folded interactions out of what is pending (after the snapshot holding them was saved); their event_ids stay, for duplicates. */
  markFolded(eventIds: readonly string[], at: Date): Promise<void>;
  /**
   * Deletes every item naming the user: interactions still pending, and the verdicts remembered for duplicates (a retry of
   * one of their event_ids is then accepted again, as it is by the database once they are forgotten). How many were pending.
   */
  forgetUser(userId: string): Promise<number>;
  /** Takes `context.internal` back from every item of the user, pending or remembered: how many pending interactions carried it. */
  unmarkUser(userId: string): Promise<number>;
}

/** What a fold holds while it runs: one fold at a time writes Aurora. */
export interface FoldLease {
  /** The lease until `until` (epoch ms) when no live fold holds it, with the intent a failed fold left; null while another holds it. */
  acquire(holder: string, until: number, now: number): Promise<{ intent: ReadonlySet<string> } | null>;
  /** Notes what this fold is about to record, before recording it: a fold that dies leaves it for the next. */
  noteIntent(holder: string, eventIds: readonly string[]): Promise<void>;
  /** Gives the lease back; the intent too once the snapshot holding it is saved (`completed`). */
  release(holder: string, completed: boolean): Promise<void>;
}
