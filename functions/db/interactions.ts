import type { StoredExclusionReason } from '../core/classify.js';
import type { InteractionToStore, StoredOutcome } from '../core/recording.js';
import { DatabaseUnavailableError, json, type Database } from './port.js';

// One call, one statement, one round trip: the statement itself is in sql/functions/record_interactions.sql.
export const RECORD_INTERACTIONS = 'SELECT * FROM record_interactions(:interactions::jsonb, :internal_email_domains::jsonb)';

interface OutcomeRow {
  ordinal: number | string;
  recorded: boolean;
  user_id: string;
  exclusion_reason: StoredExclusionReason | null;
  marked_internal: boolean;
  email_domain: string | null;
  /** Whether the user was already known to be internal before this statement; null: not known at all. */
  prior_internal: boolean | null;
}

/**
 * Stores interactions (idempotent on event_id) and maintains every rollup, in one statement. Each row it returns
 * is a few small columns, whatever the user's history: the internal domains are checked in the database.
 */
async function recordNow(
  db: Database,
  interactions: readonly InteractionToStore[],
  internalEmailDomains: readonly string[],
): Promise<StoredOutcome[]> {
  const rows = await db.query<OutcomeRow>(RECORD_INTERACTIONS, {
    interactions: json(interactions),
    internal_email_domains: json(internalEmailDomains),
  });
  return rows.map((row) => ({
    recorded: row.recorded,
    stored: {
      user_id: row.user_id,
      exclusion_reason: row.exclusion_reason,
      marked_internal: row.marked_internal,
      email_domain: row.email_domain,
    },
    knownUser: row.prior_internal === null ? null : { internal: row.prior_internal },
  }));
}

interface Waiting {
  interactions: readonly InteractionToStore[];
  internalEmailDomains: readonly string[];
  resolve(outcomes: StoredOutcome[]): void;
  reject(error: unknown): void;
}

/** Most items one statement carries: the batch route's limit. */
const MAX_ITEMS_PER_STATEMENT = 500;
/**
 * Statements sent before the last one has answered, unless the database says how many it serves at once (a pool).
 * With PGlite on its own thread the next statement then waits there, ready, instead of the thread idling while this
 * one's answer and the next one's text cross the event loop.
 */
const STATEMENTS_IN_FLIGHT = 2;

interface Queue {
  inFlight: number;
  scheduled: boolean;
  waiting: Waiting[];
}
const queues = new WeakMap<Database, Queue>();

/**
 * Records interactions. Calls that arrive while statements are running on the same database are sent
 * together as the next statement (group commit): one connection, as PGlite has, then serves many
 * concurrent requests, and a pool runs as many such statements at once as it says (statementsInFlight), in the lock
 * order every writer keeps. A lone call waits only for the current turn of the event loop, and a caller whose items
 * break a shared statement is retried alone, so no caller fails for another's interactions.
 */
export function recordInteractions(
  db: Database,
  interactions: readonly InteractionToStore[],
  internalEmailDomains: Iterable<string> = [],
): Promise<StoredOutcome[]> {
  return new Promise((resolve, reject) => {
    let queue = queues.get(db);
    if (!queue) queues.set(db, (queue = { inFlight: 0, scheduled: false, waiting: [] }));
    queue.waiting.push({ interactions, internalEmailDomains: [...internalEmailDomains].sort(), resolve, reject });
    schedule(db, queue);
  });
}

/**
 * Sends the waiting calls after the event loop's I/O phase, while a statement may be sent: requests already received
 * (parsed while the last statement ran, or held the thread, as PGlite does on the server's own) join it instead of
 * each waiting for its own, and callers resumed by the last statement do not queue the next in the same chain of
 * promises, where no request (not even /healthz) would be read until the queue ran dry.
 */
function schedule(db: Database, queue: Queue): void {
  const most = db.statementsInFlight ?? STATEMENTS_IN_FLIGHT;
  if (queue.scheduled || queue.inFlight >= most || queue.waiting.length === 0) return;
  queue.scheduled = true;
  setImmediate(() => {
    queue.scheduled = false;
    while (queue.inFlight < most && queue.waiting.length > 0) {
      queue.inFlight++;
      void recordGroup(db, nextGroup(queue)).finally(() => {
        queue.inFlight--;
        schedule(db, queue);
      });
    }
  });
}

function nextGroup(queue: Queue): Waiting[] {
  const group = [queue.waiting.shift()!];
  let items = group[0]!.interactions.length;
  while (
    queue.waiting.length > 0 &&
    items + queue.waiting[0]!.interactions.length <= MAX_ITEMS_PER_STATEMENT &&
    sameDomains(queue.waiting[0]!, group[0]!)
  ) {
    items += queue.waiting[0]!.interactions.length;
    group.push(queue.waiting.shift()!);
  }
  return group;
}

/** Only calls that ask about the same internal domains share a statement (in practice, all: one configuration). */
const sameDomains = (a: Waiting, b: Waiting) => a.internalEmailDomains.join(',') === b.internalEmailDomains.join(',');

async function recordGroup(db: Database, group: Waiting[]): Promise<void> {
  try {
    const outcomes = await recordNow(db, group.flatMap((waiting) => waiting.interactions), group[0]!.internalEmailDomains);
    let offset = 0;
    for (const waiting of group) {
      waiting.resolve(outcomes.slice(offset, (offset += waiting.interactions.length)));
    }
  } catch (error) {
    // An outage fails everyone's items alike: sending each caller's alone would only knock again, once per caller.
    if (group.length === 1 || error instanceof DatabaseUnavailableError) return group.forEach((waiting) => waiting.reject(error));
    for (const waiting of group) await recordGroup(db, [waiting]);
  }
}
