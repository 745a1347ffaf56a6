import type { StoredExclusionReason } from '../core/classify.js';
import type { InteractionToStore, StoredOutcome } from '../core/recording.js';
import { json, readJson, type Database } from './port.js';

// One call, one statement, one round trip: the statement itself is sql/005_record_interactions.sql.
const RECORD_INTERACTIONS = 'SELECT * FROM record_interactions(:interactions::jsonb)';

interface OutcomeRow {
  ordinal: number | string;
  recorded: boolean;
  user_id: string;
  exclusion_reason: StoredExclusionReason | null;
  marked_internal: boolean;
  email_domain: string | null;
  prior_marked_internal: boolean | null;
  prior_email_domains: unknown;
}

/** Stores interactions (idempotent on event_id) and maintains every rollup, in one statement. */
async function recordNow(db: Database, interactions: readonly InteractionToStore[]): Promise<StoredOutcome[]> {
  const rows = await db.query<OutcomeRow>(RECORD_INTERACTIONS, { interactions: json(interactions) });
  return rows.map((row) => ({
    recorded: row.recorded,
    stored: {
      user_id: row.user_id,
      exclusion_reason: row.exclusion_reason,
      marked_internal: row.marked_internal,
      email_domain: row.email_domain,
    },
    knownUser:
      row.prior_marked_internal === null
        ? null
        : { markedInternal: row.prior_marked_internal, emailDomains: readJson<string[]>(row.prior_email_domains) },
  }));
}

interface Waiting {
  interactions: readonly InteractionToStore[];
  resolve(outcomes: StoredOutcome[]): void;
  reject(error: unknown): void;
}

/** Most items one statement carries: the batch route's limit. */
const MAX_ITEMS_PER_STATEMENT = 500;
const queues = new WeakMap<Database, { running: boolean; waiting: Waiting[] }>();

/**
 * Records interactions. Calls that arrive while a statement is running on the same database are sent
 * together as the next statement (group commit): one connection, as PGlite has, then serves many
 * concurrent requests. A lone call waits only for the current turn of the event loop, and a caller whose items break a shared statement is
 * retried alone, so no caller fails for another's interactions.
 */
export function recordInteractions(db: Database, interactions: readonly InteractionToStore[]): Promise<StoredOutcome[]> {
  return new Promise((resolve, reject) => {
    let queue = queues.get(db);
    if (!queue) queues.set(db, (queue = { running: false, waiting: [] }));
    queue.waiting.push({ interactions, resolve, reject });
    if (queue.running) return;
    queue.running = true;
    // Start after the event loop's I/O phase: requests already received (parsed while the last statement held
    // the thread, as PGlite's does) join this statement instead of each waiting for its own.
    setImmediate(() => void drain(db, queue));
  });
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drain(db: Database, queue: { running: boolean; waiting: Waiting[] }): Promise<void> {
  for (let first = true; queue.waiting.length > 0; first = false) {
    // A turn of the event loop between statements: callers resumed by the last one would otherwise queue the next
    // in the same chain of promises, and no request (not even /healthz) would be read until the queue ran dry.
    if (!first) await nextTurn();
    const group = [queue.waiting.shift()!];
    let items = group[0]!.interactions.length;
    while (queue.waiting.length > 0 && items + queue.waiting[0]!.interactions.length <= MAX_ITEMS_PER_STATEMENT) {
      items += queue.waiting[0]!.interactions.length;
      group.push(queue.waiting.shift()!);
    }
    await recordGroup(db, group);
  }
  queue.running = false;
}

async function recordGroup(db: Database, group: Waiting[]): Promise<void> {
  try {
    const outcomes = await recordNow(db, group.flatMap((waiting) => waiting.interactions));
    let offset = 0;
    for (const waiting of group) {
      waiting.resolve(outcomes.slice(offset, (offset += waiting.interactions.length)));
    }
  } catch (error) {
    if (group.length === 1) return group[0]!.reject(error);
    for (const waiting of group) await recordGroup(db, [waiting]);
  }
}
