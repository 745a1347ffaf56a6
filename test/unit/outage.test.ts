import { describe, expect, it } from 'vitest';
import { outageOf } from '../../functions/db/outage.js';
import { DatabaseUnavailableError } from '../../functions/db/port.js';
import { errorResult } from '../../functions/handlers/http.js';

// Issue 21: each way a database goes away is a 503 with Retry-After that says what happened; a wrong statement is not.

const withCode = (code: string, message = 'as the driver says it') => Object.assign(new Error(message), { code });

describe('outageOf', () => {
  it.each([
    ['57P01', 'shutting down (admin_shutdown)'],
    ['57P02', 'crashed and is restarting (crash_shutdown)'],
    ['57P03', 'takes no connections now (cannot_connect_now)'],
    ['57014', 'the statement was cancelled (statement_timeout)'],
    ['53100', "the database's disk is full (disk_full)"],
    ['53200', 'out of memory (out_of_memory)'],
    ['53300', 'no connection to spare (too_many_connections)'],
    ['08006', 'the connection to the database failed (connection_exception)'],
    ['08001', 'the connection to the database failed (connection_exception)'],
    ['53400', 'ran out of a resource (insufficient_resources)'],
    ['58030', 'could not read or write its files (system_error)'],
    ['40P01', 'to resolve a conflict (deadlock_detected)'],
  ])('takes SQLSTATE %s for an outage: %s', (code, words) => {
    const outage = outageOf(withCode(code, 'the server message, which may name a table'));
    expect(outage).toBeInstanceOf(DatabaseUnavailableError);
    expect(outage!.message).toContain(words);
    expect(outage!.message).toContain(`SQLSTATE ${code}`);
    expect(outage!.message).not.toContain('table');
    expect(outage!.code).toBe(code);
    expect(outage!.retryAfterSeconds).toBeGreaterThan(0);
  });

  it.each([
    ['ECONNREFUSED', 'refused the connection (ECONNREFUSED)'],
    ['ECONNRESET', 'reset the connection (ECONNRESET)'],
    ['ETIMEDOUT', 'timed out (ETIMEDOUT)'],
    ['ENOTFOUND', 'does not resolve (ENOTFOUND)'],
  ])('takes errno %s for an outage, naming it', (errno, words) => {
    const outage = outageOf(withCode(errno, `connect ${errno} 10.0.0.5:5432`));
    expect(outage!.message).toContain(words);
    expect(outage!.message).not.toContain('10.0.0.5');
    expect(outage!.code).toBe(errno);
  });

  it.each([
    ['Connection terminated unexpectedly', 'the connection to the database server ended'],
    ['Connection terminated due to connection timeout', 'within the connect timeout'],
    ['timeout exceeded when trying to connect', 'within the connect timeout'],
    ['Query read timeout', 'within the query timeout'],
  ])("takes node-postgres's own %j for an outage", (message, words) => {
    expect(outageOf(new Error(message))!.message).toContain(words);
  });

  it("reads the SQLSTATE in a Data API message, as the log's sqlState does", () => {
    expect(outageOf(new Error('ERROR: could not extend file; SQLState: 53100'))!.code).toBe('53100');
  });

  it('leaves a wrong statement, a constraint and a bug alone: those are not outages', () => {
    for (const error of [withCode('23505'), withCode('42P01'), withCode('22012'), new TypeError('x is undefined'), 'a string', null]) {
      expect(outageOf(error)).toBeNull();
    }
  });
});

describe('errorResult for an outage', () => {
  it('answers 503 database_unavailable with Retry-After and the words, and logs only the code', () => {
    const logged: unknown[] = [];
    const log = { error: (...args: unknown[]) => logged.push(['error', ...args]), warn: (...args: unknown[]) => logged.push(['warn', ...args]) };
    const result = errorResult(withCode('57P01', 'terminating connection due to administrator command'), log);
    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': '5' });
    expect(JSON.parse(result.body)).toEqual({
      error: 'database_unavailable',
      message: 'the database server is shutting down (admin_shutdown), SQLSTATE 57P01; retry shortly',
    });
    expect(logged).toEqual([['warn', 'database unavailable', { cause: '57P01' }]]);
  });

  it('still answers 500 for anything else, logging its class and SQLSTATE', () => {
    const logged: unknown[] = [];
    const log = { error: (...args: unknown[]) => logged.push(['error', ...args]), warn: (...args: unknown[]) => logged.push(['warn', ...args]) };
    expect(errorResult(withCode('42P01', 'relation "secret_table" does not exist'), log).statusCode).toBe(500);
    expect(logged).toEqual([['error', 'request failed', { errorName: 'Error', sqlState: '42P01' }]]);
  });
});
