import { describe, expect, it } from 'vitest';
import { emailDomainOf, isInternalUser, storedExclusionReason } from '../../functions/core/classify.js';
import { ConfigError, loadConfig } from '../../functions/core/config.js';
import { daysSinceResponse, publishableDays, statusFor } from '../../functions/core/metric.js';
import { toStore, verdicts, type InteractionToStore, type StoredOutcome } from '../../functions/core/recording.js';
import { toPositional } from '../../functions/db/named-params.js';
import { readEpochMs } from '../../functions/db/port.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const OTHER = '1f0e2d3c-4b5a-4978-8877-665544332211';
const settings = loadConfig({});

describe('status bands', () => {
  it('follows the seed: active < 1, warning < 7, critical >= 7, no_users_yet without a value', () => {
    expect([null, 0, 0.999, 1, 6.999, 7, 100].map((days) => statusFor(days, settings))).toEqual([
      'no_users_yet',
      'active',
      'active',
      'warning',
      'warning',
      'critical',
      'critical',
    ]);
  });

  it('never reports negative days for an interaction stamped slightly ahead of the clock', () => {
    const response = daysSinceResponse(
      { lastRealInteractionAt: new Date('2026-02-08T12:01:00Z'), totalRealUsers: 1 },
      new Date('2026-02-08T12:00:00Z'),
      settings,
    );
    expect(response.value).toBe(0);
  });

  it('publishes days since the baseline before the first real user, since CloudWatch has no infinity', () => {
    const now = new Date('2026-02-08T00:00:00Z');
    expect(publishableDays({ lastRealInteractionAt: null, totalRealUsers: 0 }, new Date('2026-02-01T00:00:00Z'), now)).toBe(7);
    expect(publishableDays({ lastRealInteractionAt: new Date('2026-02-07T12:00:00Z'), totalRealUsers: 1 }, new Date('2026-02-01'), now)).toBe(0.5);
  });
});

describe('classification', () => {
  it('ranks the who before the what: test, then automated, then a landing-page visit', () => {
    const counting = settings.countingTypes;
    expect(storedExclusionReason({ user_id: USER, interaction_type: 'page_view', context: { test: true, user_agent: 'curl/8' } }, counting)).toBe('test_traffic');
    expect(storedExclusionReason({ user_id: USER, interaction_type: 'page_view', context: { user_agent: 'Wget/1.21' } }, counting)).toBe('automated_client');
    expect(storedExclusionReason({ user_id: USER, interaction_type: 'page_view' }, counting)).toBe('not_engagement');
    expect(storedExclusionReason({ user_id: USER, interaction_type: 'payment', context: { user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1' } }, counting)).toBeNull();
  });

  it('knows internal users by id, by email domain, or by their own flag', () => {
    const internal = { userIds: new Set([USER]), emailDomains: new Set(['sustainnet.io']) };
    expect(isInternalUser(USER, [], false, internal)).toBe(true);
    expect(isInternalUser('x', ['gmail.com', 'sustainnet.io'], false, internal)).toBe(true);
    expect(isInternalUser('x', [null], true, internal)).toBe(true);
    expect(isInternalUser('x', ['gmail.com', null], false, internal)).toBe(false);
  });

  it('keeps only the lower-cased domain of an email', () => {
    expect(emailDomainOf('Ana.Lima@Startup.IO')).toBe('startup.io');
    expect(emailDomainOf(undefined)).toBeNull();
  });
});

describe('verdicts', () => {
  const stored = (overrides: Partial<InteractionToStore>): InteractionToStore => ({
    ...toStore({ user_id: USER, interaction_type: 'login' }, new Date('2026-02-08T00:00:00Z'), () => 'e', settings),
    ...overrides,
  });
  const outcome = (item: InteractionToStore, recorded = true, knownUser: StoredOutcome['knownUser'] = null): StoredOutcome => ({
    recorded,
    stored: { user_id: item.user_id, exclusion_reason: item.exclusion_reason, marked_internal: item.marked_internal, email_domain: item.email_domain },
    knownUser,
  });
  const internal = { userIds: new Set<string>(), emailDomains: new Set(['sustainnet.io']) };

  it('uses what the database knew of the user before', () => {
    const item = stored({});
    const [verdict] = verdicts([item], [outcome(item, true, { internal: true })], internal);
    expect(verdict).toEqual({ event_id: 'e', status: 'recorded', counted: false, reason: 'internal_user' });
  });

  it('carries what an earlier item of the same batch revealed to the later ones', () => {
    const first = stored({ event_id: 'a', email_domain: 'sustainnet.io' });
    const second = stored({ event_id: 'b' });
    expect(verdicts([first, second], [outcome(first), outcome(second)], internal).map((v) => v.reason)).toEqual([
      'internal_user',
      'internal_user',
    ]);
  });

  it('gives every item of a user the same answer, even when the batch reveals the user internal only later', () => {
    const real = stored({ event_id: 'a' });
    const marked = stored({ event_id: 'b', marked_internal: true });
    const byEmail = stored({ event_id: 'c', user_id: OTHER });
    const teamEmail = stored({ event_id: 'd', user_id: OTHER, email_domain: 'sustainnet.io', exclusion_reason: 'test_traffic' });
    const items = [real, marked, byEmail, teamEmail];
    expect(verdicts(items, items.map((item) => outcome(item)), internal)).toEqual([
      { event_id: 'a', status: 'recorded', counted: false, reason: 'internal_user' },
      { event_id: 'b', status: 'recorded', counted: false, reason: 'internal_user' },
      { event_id: 'c', status: 'recorded', counted: false, reason: 'internal_user' },
      { event_id: 'd', status: 'recorded', counted: false, reason: 'internal_user' },
    ]);
  });

  it('counts a user the database knew as not internal, and leaves other users of the batch alone', () => {
    const mine = stored({ event_id: 'a' });
    const theirs = stored({ event_id: 'b', user_id: OTHER, marked_internal: true });
    const again = stored({ event_id: 'c' });
    expect(verdicts([mine, theirs, again], [outcome(mine, true, { internal: false }), outcome(theirs), outcome(again, false)], internal)).toEqual([
      { event_id: 'a', status: 'recorded', counted: true, reason: null },
      { event_id: 'b', status: 'recorded', counted: false, reason: 'internal_user' },
      { event_id: 'c', status: 'duplicate', counted: true, reason: null },
    ]);
  });
});

describe('configuration', () => {
  it.each([
    [{ WARNING_DAYS: 'soon' }, 'WARNING_DAYS must be a number >= 0, got "soon"'],
    [{ WARNING_DAYS: '7', CRITICAL_DAYS: '7' }, 'CRITICAL_DAYS must be greater than WARNING_DAYS (7), got 7'],
    [{ INTERNAL_USER_IDS: 'founder, ana ' + 'x'.repeat(130) }, `INTERNAL_USER_IDS must list user ids (1 to 128 characters): "ana ${'x'.repeat(130)}" must be at most 128 characters`],
    [{ INTERNAL_USER_IDS: '["42", 42]' }, 'INTERNAL_USER_IDS must list user ids (1 to 128 characters): item 1 must be text'],
    [{ INTERACTION_TYPES: 'login,Report Viewed' }, 'INTERACTION_TYPES must be comma-separated types of 1 to 50 characters from a-z, 0-9 and _ . : -, got "Report Viewed"'],
    [{ TEAM_TIME_ZONE: 'Mars/Olympus_Mons' }, 'TEAM_TIME_ZONE must be an IANA time zone such as Europe/Berlin, America/New_York or UTC, got "Mars/Olympus_Mons"'],
    [{ TEAM_TIME_ZONE: '+02:00' }, 'TEAM_TIME_ZONE must be an IANA time zone such as Europe/Berlin, America/New_York or UTC, got "+02:00"'],
    [{ CHECK_IN_DAY: 'fridays' }, 'CHECK_IN_DAY must be a day of the week such as fri or friday, got "fridays"'],
    [{ CHECK_IN_HOUR: '24' }, 'CHECK_IN_HOUR must be a whole number from 0 to 23, got "24"'],
    [{ STORE_IP: 'full' }, 'STORE_IP must be none or truncated, got "full"'],
    [{ PRODUCT_NAME: 'Acme\nInc' }, 'PRODUCT_NAME must be at most 60 characters on one line, got "Acme\nInc"'],
    [{ INTERNAL_EMAIL_DOMAINS: 'not a domain' }, 'INTERNAL_EMAIL_DOMAINS must be comma-separated domains like example.com, got "not a domain"'],
    [{ BASELINE_DATE: 'Feb 1st' }, 'BASELINE_DATE must be a date like 2026-02-01, got "Feb 1st"'],
    [{ DAU_TARGET: '2.5' }, 'DAU_TARGET must be a whole number >= 0, got "2.5"'],
  ])('fails fast naming the variable: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message.split(' ')[0]!, message.slice(message.indexOf(' ') + 1)));
  });

  it('reads lists, domains and the baseline', () => {
    const config = loadConfig({
      INTERNAL_USER_IDS: ` ${USER.toUpperCase()} , 42, user_8F3a`,
      INTERNAL_EMAIL_DOMAINS: '@SustainNet.io,example.com',
      BASELINE_DATE: '2026-02-01',
    });
    // UUID-shaped ids are stored lower-cased, as ingest stores them; any other id is kept as written (case-sensitive).
    expect([...config.internal.userIds]).toEqual([USER, '42', 'user_8F3a']);
    expect([...loadConfig({ INTERNAL_USER_IDS: '["a,b", "c"]' }).internal.userIds]).toEqual(['a,b', 'c']);
    expect([...config.internal.emailDomains]).toEqual(['sustainnet.io', 'example.com']);
    expect(config.baselineDate).toEqual(new Date('2026-02-01T00:00:00Z'));
  });
});

describe('SQL parameters', () => {
  it('turns :named parameters into positional ones, leaving casts, strings and comments alone', () => {
    const { text, values } = toPositional("SELECT :a::int, ':not_a_param', :b, :a -- :c\n, $fn$ :d $fn$", { a: 1, b: 'x' });
    expect(text).toBe("SELECT $1::int, ':not_a_param', $2, $1 -- :c\n, $fn$ :d $fn$");
    expect(values).toEqual([1, 'x']);
  });

  it('refuses a query whose parameter was not given', () => {
    expect(() => toPositional('SELECT :missing', {})).toThrow('missing SQL parameter :missing');
  });

  it('reads times as every query returns them, epoch milliseconds, and refuses any other form', () => {
    const at = new Date('2026-02-08T14:32:15.500Z');
    // A number from the Data API and PGlite, digits from pg's int8, a bigint where a driver gives one.
    for (const value of [at.getTime(), String(at.getTime()), BigInt(at.getTime())]) expect(readEpochMs(value)).toEqual(at);
    expect(readEpochMs(null)).toBeNull();
    // A timestamptz column selected by mistake: PGlite's Date, the Data API's (looser reading) text.
    expect(() => readEpochMs(at)).toThrow(/epochMs/);
    expect(() => readEpochMs('2026-02-08 14:32:15.5')).toThrow(TypeError);
    expect(() => readEpochMs(1.5)).toThrow(TypeError);
  });
});
