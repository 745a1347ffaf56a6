import { describe, expect, it } from 'vitest';
import { epochMs, json, readEpochMs, readJson, readNumber, type Database } from '../../functions/db/port.js';
import { readHeadline } from '../../functions/db/metrics.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { capturingLog, countRows, databaseEmptiedForEachTest, emptyDatabase, get, post, testClock, testDeps } from '../support/harness.js';

const ALICE = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const BOB = '1f0e2d3c-4b5a-4978-8877-665544332211';
const FOUNDER = '00000000-0000-4000-8000-000000000001';
const NOW = '2026-02-08T12:30:15.000Z';
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const db = databaseEmptiedForEachTest();

function service(env: Record<string, string> = {}) {
  const clock = testClock(NOW);
  const logs = capturingLog();
  const deps = testDeps(db, { now: clock.now, env, log: logs.log });
  return { ingest: createIngestHandler(deps), metrics: createMetricsHandler(deps), clock, logs };
}

const parse = (result: { body: string }) => JSON.parse(result.body);

async function headline(metrics: ReturnType<typeof service>['metrics']) {
  return parse(await metrics(get('/metrics/days-since-last-interaction')));
}

/** Every table's row count: "changes nothing" means this does not move. */
async function snapshot() {
  const tables = ['interactions', 'users', 'real_users', 'real_user_activity', 'daily_real_activity'];
  const counts = await Promise.all(tables.map((table) => countRows(db, table)));
  const [total] = await db.query('SELECT users FROM real_user_count');
  return { ...Object.fromEntries(tables.map((table, i) => [table, counts[i]])), real_user_count: readNumber(total!.users) };
}

describe('POST /metrics/interaction', () => {
  it('records a real interaction, counts it, and moves the number (the seed\'s Day 1 example)', async () => {
    const { ingest, metrics, clock } = service();
    clock.set('2026-02-08T13:32:15Z');
    const result = await ingest(
      post('/metrics/interaction', {
        event_id: 'evt-1',
        user_id: ALICE,
        interaction_type: 'coach_call',
        occurred_at: '2026-02-08T14:32:15+02:00',
        metadata: { agent: 'sre', framework: 'well-architected' },
        context: { email: 'alice@startup.io', user_agent: CHROME, ip: '203.0.113.7' },
      }),
    );
    expect(result.statusCode).toBe(202);
    expect(parse(result)).toEqual({ event_id: 'evt-1', status: 'recorded', counted: true, reason: null });
    expect(await headline(metrics)).toEqual({
      metric: 'days_since_last_real_user_interaction',
      value: expect.closeTo(1 / 24, 9),
      status: 'active',
      target: 0,
      last_interaction: '2026-02-08T12:32:15.000Z',
      total_users: 1,
    });
  });

  it('keeps only the email domain, never the address', async () => {
    const { ingest } = service();
    await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'signup', context: { email: 'Alice@Startup.IO' } }));
    const rows = await db.query('SELECT email_domain FROM interactions');
    expect(rows).toEqual([{ email_domain: 'startup.io' }]);
    // Every column of both rows, as text (the Data API returns no timestamptz column as it is).
    const everything = JSON.stringify(await db.query('SELECT i::text AS interaction, u::text AS person FROM interactions i JOIN users u USING (user_id)'));
    expect(everything.toLowerCase()).not.toContain('alice@');
  });

  it('refuses an email longer than 254 characters by name, and stores nothing', async () => {
    const { ingest } = service();
    const email = `a@${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}.${'w'.repeat(63)}.io`;
    const result = await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'signup', context: { email } }));
    expect(result.statusCode).toBe(400);
    expect(parse(result).problems).toEqual([{ field: 'context.email', message: 'must be at most 254 characters' }]);
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('assigns an event_id when the client sends none, and defaults occurred_at to now', async () => {
    const { ingest } = service();
    const body = parse(await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'login' })));
    expect(body.event_id).toBe('server-1');
    const [row] = await db.query(`SELECT ${epochMs('occurred_at')} AS occurred_at FROM interactions`);
    expect(readEpochMs(row!.occurred_at)!.toISOString()).toBe(NOW);
  });

  it('answers a repeated event_id with 200 duplicate and changes nothing', async () => {
    const { ingest, metrics } = service();
    const first = { event_id: 'retry-me', user_id: ALICE, interaction_type: 'login', occurred_at: '2026-02-08T10:00:00Z' };
    expect((await ingest(post('/metrics/interaction', first))).statusCode).toBe(202);
    const before = await snapshot();
    const beforeMetric = await headline(metrics);
    const again = await ingest(
      post('/metrics/interaction', { ...first, interaction_type: 'decision', occurred_at: '2026-02-08T12:00:00Z' }),
    );
    expect(again.statusCode).toBe(200);
    expect(parse(again)).toEqual({ event_id: 'retry-me', status: 'duplicate', counted: true, reason: null });
    expect(await snapshot()).toEqual(before);
    expect(await headline(metrics)).toEqual(beforeMetric);
  });

  it('answers a duplicate for the user of its original, even when the retry names another user', async () => {
    const { ingest } = service({ INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    // BOB is internal by an earlier interaction's email; his event carries no email of its own.
    await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'signup', context: { email: 'bob@sustainnet.io' } }));
    await ingest(post('/metrics/interaction', { event_id: 'bobs-demo', user_id: BOB, interaction_type: 'coach_call' }));
    const stored = await countRows(db, 'interactions');
    const retry = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { event_id: 'bobs-demo', user_id: ALICE, interaction_type: 'coach_call' },
          { event_id: 'alices-own', user_id: ALICE, interaction_type: 'login' },
        ],
      }),
    );
    expect(parse(retry).results).toEqual([
      { event_id: 'bobs-demo', status: 'duplicate', counted: false, reason: 'internal_user' },
      { event_id: 'alices-own', status: 'recorded', counted: true, reason: null },
    ]);
    expect(await countRows(db, 'interactions')).toBe(stored + 1);
  });

  it.each([
    ['a landing-page visit', { interaction_type: 'page_view' }, 'not_engagement'],
    ['test traffic', { interaction_type: 'login', context: { test: true } }, 'test_traffic'],
    ['curl from a terminal', { interaction_type: 'login', context: { user_agent: 'curl/8.5.0' } }, 'automated_client'],
    ['a python script', { interaction_type: 'agent_run', context: { user_agent: 'python-requests/2.32.3' } }, 'automated_client'],
    ['a headless browser', { interaction_type: 'decision', context: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36' } }, 'automated_client'],
    ['Postman', { interaction_type: 'export', context: { user_agent: 'PostmanRuntime/7.43.0' } }, 'automated_client'],
    ['a founder demo flagged internal', { interaction_type: 'coach_call', context: { internal: true } }, 'internal_user'],
  ])('stores %s but does not count it', async (_name, fields, reason) => {
    const { ingest, metrics } = service();
    const result = await ingest(post('/metrics/interaction', { user_id: ALICE, ...fields }));
    expect(result.statusCode).toBe(202);
    expect(parse(result)).toMatchObject({ status: 'recorded', counted: false, reason });
    expect(await countRows(db, 'interactions')).toBe(1);
    expect(await headline(metrics)).toMatchObject({ value: null, status: 'no_users_yet', total_users: 0 });
  });

  it('does not count users listed in INTERNAL_USER_IDS or INTERNAL_EMAIL_DOMAINS', async () => {
    const { ingest, metrics } = service({ INTERNAL_USER_IDS: FOUNDER, INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    const byId = parse(await ingest(post('/metrics/interaction', { user_id: FOUNDER, interaction_type: 'coach_call' })));
    const byEmail = parse(
      await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'signup', context: { email: 'bob@SustainNet.io' } })),
    );
    expect([byId.reason, byEmail.reason]).toEqual(['internal_user', 'internal_user']);
    expect(await headline(metrics)).toMatchObject({ status: 'no_users_yet', total_users: 0 });
  });

  it('answers internal_user for a user already known to be internal, even without an email this time', async () => {
    const { ingest } = service({ INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'signup', context: { email: 'bob@sustainnet.io' } }));
    const later = parse(await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'coach_call' })));
    expect(later).toMatchObject({ counted: false, reason: 'internal_user' });
  });

  it('drops a user marked internal later from the number, with their whole history', async () => {
    const { ingest, metrics } = service({ INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'signup', occurred_at: '2026-02-01T09:00:00Z' }));
    await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'coach_call', occurred_at: '2026-02-08T11:00:00Z' }));
    expect(await headline(metrics)).toMatchObject({ last_interaction: '2026-02-08T11:00:00.000Z', total_users: 2 });

    await ingest(post('/metrics/interaction', { user_id: BOB, interaction_type: 'page_view', context: { email: 'bob@sustainnet.io' } }));
    expect(await headline(metrics)).toMatchObject({ last_interaction: '2026-02-01T09:00:00.000Z', total_users: 1, status: 'critical' });
  });

  it('drops a user from the number when INTERNAL_USER_IDS names them after the fact', async () => {
    const { ingest } = service();
    await ingest(post('/metrics/interaction', { user_id: FOUNDER, interaction_type: 'coach_call' }));
    const { metrics } = service({ INTERNAL_USER_IDS: FOUNDER });
    expect(await headline(metrics)).toMatchObject({ value: null, total_users: 0 });
  });

  it('never moves the last interaction backwards when an older one arrives late', async () => {
    const { ingest, metrics } = service();
    await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'login', occurred_at: '2026-02-08T12:00:00Z' }));
    await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'signup', occurred_at: '2026-02-02T12:00:00Z' }));
    expect(await headline(metrics)).toMatchObject({ last_interaction: '2026-02-08T12:00:00.000Z', total_users: 1 });
  });
});

describe('POST /metrics/interactions (batch)', () => {
  it('records a batch in one go and counts duplicates within and across batches once', async () => {
    const { ingest, metrics } = service();
    const batch = {
      interactions: [
        { event_id: 'b-1', user_id: ALICE, interaction_type: 'signup', occurred_at: '2026-02-08T09:00:00Z' },
        { event_id: 'b-2', user_id: ALICE, interaction_type: 'login', occurred_at: '2026-02-08T10:00:00Z' },
        { event_id: 'b-1', user_id: ALICE, interaction_type: 'signup', occurred_at: '2026-02-08T09:00:00Z' },
        { event_id: 'b-3', user_id: BOB, interaction_type: 'page_view', occurred_at: '2026-02-08T11:00:00Z' },
      ],
    };
    const first = await ingest(post('/metrics/interactions', batch));
    expect(first.statusCode).toBe(202);
    expect(parse(first)).toEqual({
      status: 'recorded',
      recorded: 3,
      duplicates: 1,
      counted: 2,
      results: [
        { event_id: 'b-1', status: 'recorded', counted: true, reason: null },
        { event_id: 'b-2', status: 'recorded', counted: true, reason: null },
        { event_id: 'b-1', status: 'duplicate', counted: true, reason: null },
        { event_id: 'b-3', status: 'recorded', counted: false, reason: 'not_engagement' },
      ],
    });
    const before = await snapshot();
    const again = await ingest(post('/metrics/interactions', batch));
    expect(again.statusCode).toBe(200);
    expect(parse(again)).toMatchObject({ status: 'duplicate', recorded: 0, duplicates: 4, counted: 0 });
    expect(await snapshot()).toEqual(before);
    expect(before).toMatchObject({ interactions: 3, real_users: 1, real_user_count: 1 });
    expect(await headline(metrics)).toMatchObject({ total_users: 1, last_interaction: '2026-02-08T10:00:00.000Z' });
  });

  it('learns within a batch that a user is internal', async () => {
    const { ingest } = service({ INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    const body = parse(
      await ingest(
        post('/metrics/interactions', {
          interactions: [
            { user_id: BOB, interaction_type: 'signup', context: { email: 'bob@sustainnet.io' } },
            { user_id: BOB, interaction_type: 'coach_call' },
          ],
        }),
      ),
    );
    expect(body.results.map((result: { reason: string }) => result.reason)).toEqual(['internal_user', 'internal_user']);
  });

  it('accepts 500 interactions and refuses 501', async () => {
    const { ingest } = service();
    const item = (i: number) => ({ event_id: `bulk-${i}`, user_id: ALICE, interaction_type: 'login' });
    const ok = await ingest(post('/metrics/interactions', { interactions: Array.from({ length: 500 }, (_, i) => item(i)) }));
    expect(parse(ok)).toMatchObject({ recorded: 500, counted: 500 });
    await emptyDatabase(db);
    const tooMany = await ingest(post('/metrics/interactions', { interactions: Array.from({ length: 501 }, (_, i) => item(i)) }));
    expect(tooMany.statusCode).toBe(400);
    expect(parse(tooMany).problems).toEqual([{ field: 'interactions', message: 'must hold at most 500 interactions' }]);
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('refuses the whole batch when any item is invalid, listing every bad index and field', async () => {
    const { ingest } = service();
    const result = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { user_id: ALICE, interaction_type: 'login' },
          { user_id: '', interaction_type: 'login' },
          { user_id: ALICE, interaction_type: 'Teleport!' },
          { user_id: ALICE, interaction_type: 'login', occurred_at: '2026-02-08T13:00:00Z' },
        ],
      }),
    );
    expect(result.statusCode).toBe(400);
    const body = parse(result);
    expect(body.error).toBe('invalid_request');
    expect(body.problems.map((problem: { field: string }) => problem.field)).toEqual([
      'interactions.1.user_id',
      'interactions.2.interaction_type',
    ]);
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('reports future occurred_at values by index when the shape is right', async () => {
    const { ingest } = service();
    const result = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { user_id: ALICE, interaction_type: 'login' },
          { user_id: ALICE, interaction_type: 'login', occurred_at: '2026-02-08T13:00:00Z' },
        ],
      }),
    );
    expect(result.statusCode).toBe(400);
    expect(parse(result).problems).toEqual([
      { field: 'interactions.1.occurred_at', message: 'must not be more than 5 minutes in the future' },
    ]);
    expect(await countRows(db, 'interactions')).toBe(0);
  });
});

describe('a retried request without an event_id counts once', () => {
  const withKey = (path: string, body: unknown, key: string) => post(path, body, { 'Idempotency-Key': key });

  it('under its Idempotency-Key, on either route: the retry is a duplicate of the first try, whatever the clock says by then', async () => {
    const { ingest, metrics, clock } = service();
    const login = { user_id: ALICE, interaction_type: 'login' };
    const first = await ingest(withKey('/metrics/interaction', login, 'login-7f3a9c'));
    expect(first.statusCode).toBe(202);
    const before = await snapshot();
    const beforeMetric = await headline(metrics);
    // A timeout or a 502 after the first try committed: the client sends the same request again, a while later.
    clock.set('2026-02-08T12:31:00Z');
    const retry = await ingest(withKey('/metrics/interaction', login, 'login-7f3a9c'));
    expect(retry.statusCode).toBe(200);
    expect(parse(retry)).toEqual({ ...parse(first), status: 'duplicate' });
    expect(parse(first).event_id).toMatch(/^idempotency-key:[A-Za-z0-9_-]{43}$/);
    expect(await snapshot()).toEqual(before);
    // The last interaction is still the first try's, not the retry's later clock.
    expect(await headline(metrics)).toMatchObject({ last_interaction: beforeMetric.last_interaction, total_users: 1 });

    // A batch: each item without an event_id is its own interaction (two logins alike are two), the retry none.
    const batch = { interactions: [login, login, { event_id: 'own-id', user_id: BOB, interaction_type: 'login' }] };
    const sent = parse(await ingest(withKey('/metrics/interactions', batch, 'batch-1')));
    expect(sent).toMatchObject({ status: 'recorded', recorded: 3, duplicates: 0 });
    expect(new Set(sent.results.map((result: { event_id: string }) => result.event_id)).size).toBe(3);
    expect(sent.results[2].event_id).toBe('own-id');
    const resent = parse(await ingest(withKey('/metrics/interactions', batch, 'batch-1')));
    expect(resent).toMatchObject({ status: 'duplicate', recorded: 0, duplicates: 3 });
    expect(resent.results.map((result: { event_id: string }) => result.event_id)).toEqual(sent.results.map((result: { event_id: string }) => result.event_id));
    expect(await countRows(db, 'interactions')).toBe(4);
    // Another key is another request.
    expect((await ingest(withKey('/metrics/interaction', login, 'login-8a1b2c'))).statusCode).toBe(202);
  });

  it('by its content when occurred_at is sent, however its zone is written', async () => {
    const { ingest, clock } = service();
    const payment = { user_id: ALICE.toUpperCase(), interaction_type: 'payment', occurred_at: '2026-02-08T14:00:00+02:00', metadata: { plan: 'pro', seats: 3 } };
    const first = parse(await ingest(post('/metrics/interaction', payment)));
    expect(first).toMatchObject({ status: 'recorded', event_id: expect.stringMatching(/^content:[A-Za-z0-9_-]{43}$/) });
    clock.set('2026-02-08T12:45:00Z');
    const retry = { ...payment, user_id: ALICE, occurred_at: '2026-02-08T12:00:00.000Z', metadata: { seats: 3, plan: 'pro' } };
    expect(parse(await ingest(post('/metrics/interaction', retry)))).toEqual({ ...first, status: 'duplicate' });
    // Anything else that differs is another interaction.
    expect(parse(await ingest(post('/metrics/interaction', { ...payment, metadata: { plan: 'team', seats: 3 } })))).toMatchObject({ status: 'recorded' });
    expect(await countRows(db, 'interactions')).toBe(2);
  });

  it('for any product: text user ids in their own case, and the types INTERACTION_TYPES names', async () => {
    const { ingest, metrics } = service({ INTERACTION_TYPES: 'signup,report_viewed' });
    const viewed = { user_id: 'Ana', interaction_type: 'report_viewed', occurred_at: '2026-02-08T11:00:00Z' };
    const first = parse(await ingest(post('/metrics/interaction', viewed)));
    expect(first).toMatchObject({ status: 'recorded', counted: true });
    expect(parse(await ingest(post('/metrics/interaction', viewed)))).toEqual({ ...first, status: 'duplicate' });
    // "ana" is another user, the same content notwithstanding.
    expect(parse(await ingest(post('/metrics/interaction', { ...viewed, user_id: 'ana' })))).toMatchObject({ status: 'recorded', counted: true });
    const keyed = { user_id: 'acct:7/ü', interaction_type: 'report_viewed' };
    expect((await ingest(post('/metrics/interaction', keyed, { 'Idempotency-Key': 'view-1' }))).statusCode).toBe(202);
    expect((await ingest(post('/metrics/interaction', keyed, { 'Idempotency-Key': 'view-1' }))).statusCode).toBe(200);
    expect(await countRows(db, 'interactions')).toBe(3);
    expect((await headline(metrics)).total_users).toBe(3);
  });

  it('not at all without occurred_at or a key: the server makes up an id each time (the API reference says so)', async () => {
    const { ingest } = service();
    const login = { user_id: ALICE, interaction_type: 'login' };
    const ids = [parse(await ingest(post('/metrics/interaction', login))).event_id, parse(await ingest(post('/metrics/interaction', login))).event_id];
    expect(ids).toEqual(['server-1', 'server-2']);
    expect(await countRows(db, 'interactions')).toBe(2);
  });

  it.each([
    ['too long', 'k'.repeat(256), 'must be at most 255 characters'],
    ['empty', '', 'must be 1 or more visible ASCII characters (spaces allowed between them)'],
    ['not ASCII', 'clé-1', 'must be 1 or more visible ASCII characters (spaces allowed between them)'],
  ])('refuses an Idempotency-Key that is %s, naming the header, and stores nothing', async (_what, key, message) => {
    const { ingest } = service();
    const result = await ingest(withKey('/metrics/interaction', { user_id: ALICE, interaction_type: 'login' }, key));
    expect(result.statusCode).toBe(400);
    expect(parse(result)).toEqual({
      error: 'invalid_request',
      message: `Idempotency-Key ${message}`,
      problems: [{ field: 'Idempotency-Key', message }],
    });
    expect(await countRows(db, 'interactions')).toBe(0);
  });
});

describe('what counts, without holes', () => {
  it('takes a missing, empty or blank user agent as one case: no agent to judge, so it counts (server to server, a backend often has none)', async () => {
    const { ingest, metrics } = service();
    const agents = [undefined, '', ' ', '\t\n '];
    const answers = await Promise.all(
      agents.map(async (user_agent, i) =>
        parse(await ingest(post('/metrics/interaction', { event_id: `ua-${i}`, user_id: `u${i}`, interaction_type: 'login', context: { user_agent } }))),
      ),
    );
    expect(answers.map((answer) => [answer.counted, answer.reason])).toEqual(agents.map(() => [true, null]));
    expect((await headline(metrics)).total_users).toBe(4);
    // Nothing to keep when there is no agent; a real one is kept without the whitespace around it.
    await ingest(post('/metrics/interaction', { event_id: 'ua-curl', user_id: 'u9', interaction_type: 'login', context: { user_agent: '  curl/8.5.0 ' } }));
    expect(await db.query('SELECT event_id, user_agent, exclusion_reason FROM interactions ORDER BY event_id')).toEqual([
      { event_id: 'ua-0', user_agent: null, exclusion_reason: null },
      { event_id: 'ua-1', user_agent: null, exclusion_reason: null },
      { event_id: 'ua-2', user_agent: null, exclusion_reason: null },
      { event_id: 'ua-3', user_agent: null, exclusion_reason: null },
      { event_id: 'ua-curl', user_agent: 'curl/8.5.0', exclusion_reason: 'automated_client' },
    ]);
  });

  it('takes an internal email domain to cover its subdomains, when the interaction arrives and when the number is read', async () => {
    const internal = { INTERNAL_EMAIL_DOMAINS: 'internal.test' };
    const { ingest, metrics } = service(internal);
    let sent = 0;
    const send = async (user_id: string, email?: string) =>
      parse(await ingest(post('/metrics/interaction', { event_id: `d-${sent++}`, user_id, interaction_type: 'login', ...(email ? { context: { email } } : {}) })));
    expect(await send('ana', 'ana@mail.internal.test')).toMatchObject({ counted: false, reason: 'internal_user' });
    expect(await send('cy', 'cy@deep.eu.internal.test')).toMatchObject({ counted: false, reason: 'internal_user' });
    // Known internal by an earlier subdomain address, in the database: her next interaction carries none.
    expect(await send('ana')).toMatchObject({ counted: false, reason: 'internal_user' });
    // Not under it: a domain that only ends in the same letters, and one that only starts with it.
    expect(await send('bo', 'bo@notinternal.test')).toMatchObject({ counted: true, reason: null });
    expect(await send('di', 'di@internal.test.example')).toMatchObject({ counted: true, reason: null });
    expect((await headline(metrics)).total_users).toBe(2);

    // Recorded while nobody was internal, then named: the read leaves her out, as it leaves the domain's own users out.
    const before = service();
    expect(parse(await before.ingest(post('/metrics/interaction', { event_id: 'eve-1', user_id: 'eve', interaction_type: 'login', context: { email: 'eve@eu.internal.test' } })))).toMatchObject({ counted: true });
    expect((await headline(before.metrics)).total_users).toBe(5);
    expect((await headline(service(internal).metrics)).total_users).toBe(2);
  });
});

describe('bad input gets a clear JSON error and changes nothing', () => {
  const valid = { user_id: ALICE, interaction_type: 'login' };
  const cases: Array<[string, () => ReturnType<typeof post>, number, string, string?]> = [
    ['malformed JSON', () => post('/metrics/interaction', '{"user_id": '), 400, 'invalid_json'],
    ['an empty body', () => post('/metrics/interaction', ''), 400, 'invalid_json'],
    ['a JSON array instead of an object', () => post('/metrics/interaction', [valid]), 400, 'invalid_request', '(body)'],
    ['a wrong content type', () => post('/metrics/interaction', valid, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    ['no user_id', () => post('/metrics/interaction', { interaction_type: 'login' }), 400, 'invalid_request', 'user_id'],
    ['an empty user_id', () => post('/metrics/interaction', { ...valid, user_id: '' }), 400, 'invalid_request', 'user_id'],
    ['a user_id over 128 characters', () => post('/metrics/interaction', { ...valid, user_id: 'u'.repeat(129) }), 400, 'invalid_request', 'user_id'],
    ['a user_id with a trailing space', () => post('/metrics/interaction', { ...valid, user_id: '42 ' }), 400, 'invalid_request', 'user_id'],
    ['a user_id with a control character', () => post('/metrics/interaction', { ...valid, user_id: '4\n2' }), 400, 'invalid_request', 'user_id'],
    ['an interaction_type in capitals', () => post('/metrics/interaction', { ...valid, interaction_type: 'Login' }), 400, 'invalid_request', 'interaction_type'],
    ['an interaction_type over 50 characters', () => post('/metrics/interaction', { ...valid, interaction_type: 't'.repeat(51) }), 400, 'invalid_request', 'interaction_type'],
    ['an interaction_type with a space', () => post('/metrics/interaction', { ...valid, interaction_type: 'report viewed' }), 400, 'invalid_request', 'interaction_type'],
    ['an unparseable occurred_at', () => post('/metrics/interaction', { ...valid, occurred_at: 'yesterday' }), 400, 'invalid_request', 'occurred_at'],
    ['an occurred_at without a zone', () => post('/metrics/interaction', { ...valid, occurred_at: '2026-02-08T10:00:00' }), 400, 'invalid_request', 'occurred_at'],
    ['an occurred_at more than 5 minutes ahead', () => post('/metrics/interaction', { ...valid, occurred_at: '2026-02-08T12:36:00Z' }), 400, 'invalid_request', 'occurred_at'],
    ['an unknown field', () => post('/metrics/interaction', { ...valid, interation_type: 'login' }), 400, 'invalid_request', '(body)'],
    ['metadata that is not an object', () => post('/metrics/interaction', { ...valid, metadata: 'hi' }), 400, 'invalid_request', 'metadata'],
    ['metadata over 8 KB', () => post('/metrics/interaction', { ...valid, metadata: { blob: 'x'.repeat(8200) } }), 400, 'invalid_request', 'metadata'],
    ['a context email that is not an email', () => post('/metrics/interaction', { ...valid, context: { email: 'nope' } }), 400, 'invalid_request', 'context.email'],
    ['a context.test that is not a boolean', () => post('/metrics/interaction', { ...valid, context: { test: 'yes' } }), 400, 'invalid_request', 'context.test'],
    ['a single body over 64 KB', () => post('/metrics/interaction', { ...valid, metadata: { blob: 'x'.repeat(70_000) } }), 413, 'payload_too_large'],
    ['a batch body over 1 MB', () => post('/metrics/interactions', { interactions: [{ ...valid, metadata: { blob: 'x'.repeat(1_100_000) } }] }), 413, 'payload_too_large'],
    ['an empty batch', () => post('/metrics/interactions', { interactions: [] }), 400, 'invalid_request', 'interactions'],
    ['a batch without its list', () => post('/metrics/interactions', [valid]), 400, 'invalid_request', '(body)'],
    ['a NUL character in metadata', () => post('/metrics/interaction', { ...valid, metadata: { note: 'a\u0000b' } }), 400, 'invalid_request', 'metadata.note'],
    ['a NUL character in an event_id', () => post('/metrics/interaction', { ...valid, event_id: 'a\u0000b' }), 400, 'invalid_request', 'event_id'],
    ['a lone surrogate in metadata', () => post('/metrics/interaction', '{"user_id":"' + ALICE + '","interaction_type":"login","metadata":{"note":"\\ud800"}}'), 400, 'invalid_request', 'metadata.note'],
    ['a lone surrogate in a user agent', () => post('/metrics/interaction', '{"user_id":"' + ALICE + '","interaction_type":"login","context":{"user_agent":"\\udfff x"}}'), 400, 'invalid_request', 'context.user_agent'],
    ['metadata nested 3,000 levels deep', () => post('/metrics/interaction', '{"user_id":"' + ALICE + '","interaction_type":"login","metadata":{"a":' + '['.repeat(3000) + ']'.repeat(3000) + '}}'), 400, 'invalid_request', 'metadata'],
    ['an occurred_at in year 0', () => post('/metrics/interaction', { ...valid, occurred_at: '0000-01-01T00:00:00Z' }), 400, 'invalid_request', 'occurred_at'],
    ['an occurred_at before 2000', () => post('/metrics/interaction', { ...valid, occurred_at: '1999-12-31T23:59:59Z' }), 400, 'invalid_request', 'occurred_at'],
    ['GET on the ingest route', () => ({ ...post('/metrics/interaction', valid), httpMethod: 'GET' }), 405, 'method_not_allowed'],
  ];

  it.each(cases)('%s', async (_name, request, status, code, field) => {
    const { ingest } = service();
    const result = await ingest(request());
    expect(result.statusCode).toBe(status);
    expect(result.headers?.['content-type']).toMatch(/^application\/json/);
    const body = parse(result);
    expect(body.error).toBe(code);
    expect(typeof body.message).toBe('string');
    if (field) expect(body.problems.map((problem: { field: string }) => problem.field)).toContain(field);
    expect(result.body).not.toMatch(/INSERT|SELECT|at .*\.ts:\d+/);
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('names the missing field in the message', async () => {
    const { ingest } = service();
    const body = parse(await ingest(post('/metrics/interaction', { interaction_type: 'login' })));
    expect(body.message).toBe('user_id is required');
  });

  it('tells a wrong value from a missing one', async () => {
    const { ingest } = service();
    const body = parse(await ingest(post('/metrics/interaction', { user_id: 123, interaction_type: 'login', context: { test: 'yes' } })));
    expect(body.problems).toEqual([
      { field: 'user_id', message: 'must be text' },
      { field: 'context.test', message: 'must be true or false' },
    ]);
  });
});

describe('concurrent requests', () => {
  it('are recorded together without losing, doubling or mixing up any of them', async () => {
    const { ingest, metrics } = service();
    const users = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const results = await Promise.all(
      users.flatMap((user, i) => [
        ingest(post('/metrics/interaction', { event_id: `c-${i}`, user_id: user, interaction_type: i % 2 ? 'login' : 'page_view' })),
        ingest(post('/metrics/interaction', { event_id: `c-${i}`, user_id: user, interaction_type: i % 2 ? 'login' : 'page_view' })),
      ]),
    );
    const bodies = results.map((result) => JSON.parse(result.body));
    for (let i = 0; i < users.length; i++) {
      const pair = bodies.slice(2 * i, 2 * i + 2);
      expect(pair.map((body) => body.event_id)).toEqual([`c-${i}`, `c-${i}`]);
      expect(pair.map((body) => body.status).sort()).toEqual(['duplicate', 'recorded']);
      expect(pair.every((body) => body.reason === (i % 2 ? null : 'not_engagement'))).toBe(true);
    }
    expect(await countRows(db, 'interactions')).toBe(40);
    expect(await headline(metrics)).toMatchObject({ total_users: 20 });
  });

  it('do not fail for a neighbour whose interaction the database refuses', async () => {
    const { ingest } = service();
    // A user_id that passes the UUID check but that this database refuses, sent alongside good ones.
    await db.query("ALTER TABLE interactions ADD CONSTRAINT no_zero_user CHECK (user_id <> '00000000-0000-4000-8000-000000000000')");
    try {
      const results = await Promise.all(
        // The first runs alone; the refused one then shares a statement with the last two.
        [1, 0, 2, 3].map((i) =>
          ingest(post('/metrics/interaction', { user_id: `00000000-0000-4000-8000-00000000000${i}`, interaction_type: 'login' })),
        ),
      );
      expect(results.map((result) => result.statusCode)).toEqual([202, 500, 202, 202]);
      expect(await countRows(db, 'interactions')).toBe(3);
    } finally {
      await db.query('ALTER TABLE interactions DROP CONSTRAINT no_zero_user');
    }
  });
});

describe('when the database fails', () => {
  it('answers a bare 500 and logs neither SQL nor the stack', async () => {
    const logs = capturingLog();
    const broken: Database = {
      ...db,
      query: async () => {
        throw Object.assign(new Error('syntax error at or near "INSERT INTO interactions" password=hunter2'), { code: '42601' });
      },
    };
    const ingest = createIngestHandler(testDeps(broken, { log: logs.log }));
    const result = await ingest(post('/metrics/interaction', { user_id: ALICE, interaction_type: 'login' }));
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body)).toEqual({ error: 'internal_error', message: 'something went wrong on our side; it has been logged' });
    expect(logs.lines).toHaveLength(1);
    expect(JSON.parse(logs.lines[0]!).extra).toEqual([{ errorName: 'Error', sqlState: '42601' }]);
    expect(logs.lines.join('\n')).not.toMatch(/INSERT|hunter2|at .*\.ts/);
  });
});
