import { describe, expect, it } from 'vitest';
import { canonicalJson, eventIdOf, parseIdempotencyKey } from '../../functions/core/event-identity.js';
import type { InteractionInput } from '../../functions/core/interaction.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const login: InteractionInput = { user_id: USER, interaction_type: 'login' };

describe('the event_id an interaction is stored under', () => {
  it('is the client\'s own when it sent one, whatever else the request says', () => {
    expect(eventIdOf({ ...login, event_id: 'e-1', occurred_at: '2026-02-08T10:00:00Z' }, { idempotencyKey: 'k', index: 3 })).toBe('e-1');
  });

  it('comes from the Idempotency-Key and the place in the batch, and from nothing else', () => {
    const single = eventIdOf(login, { idempotencyKey: 'k' });
    expect(single).toMatch(/^idempotency-key:[A-Za-z0-9_-]{43}$/);
    // The key names the request: the same key is the same id, whatever the content.
    expect(eventIdOf({ ...login, interaction_type: 'payment', occurred_at: '2026-02-08T10:00:00Z' }, { idempotencyKey: 'k' })).toBe(single);
    const ids = [single, eventIdOf(login, { idempotencyKey: 'k', index: 0 }), eventIdOf(login, { idempotencyKey: 'k', index: 1 }), eventIdOf(login, { idempotencyKey: 'K' })];
    expect(new Set(ids).size).toBe(4);
  });

  it('comes from the content when occurred_at is sent: the same instant in any zone, keys in any order, the user id in any case', () => {
    const payment: InteractionInput = {
      user_id: USER.toUpperCase(),
      interaction_type: 'payment',
      occurred_at: '2026-02-08T14:00:00+02:00',
      metadata: { plan: 'pro', nested: { b: [1, { d: 2, c: 3 }], a: null } },
      context: { ip: '203.0.113.7' },
    };
    const id = eventIdOf(payment);
    expect(id).toMatch(/^content:[A-Za-z0-9_-]{43}$/);
    expect(
      eventIdOf({
        context: { ip: '203.0.113.7' },
        metadata: { nested: { a: null, b: [1, { c: 3, d: 2 }] }, plan: 'pro' },
        occurred_at: '2026-02-08T12:00:00.000Z',
        interaction_type: 'payment',
        user_id: USER,
      }),
    ).toBe(id);
    for (const other of [
      { ...payment, occurred_at: '2026-02-08T12:00:00.001Z' },
      { ...payment, interaction_type: 'login' as const },
      { ...payment, metadata: { plan: 'pro' } },
      { ...payment, context: {} },
      // An array's order is its content.
      { ...payment, metadata: { ...payment.metadata, nested: { b: [{ d: 2, c: 3 }, 1], a: null } } },
    ]) {
      expect(eventIdOf(other)).not.toBe(id);
    }
    // No metadata and empty metadata are stored alike, so they are the same interaction.
    expect(eventIdOf({ ...login, occurred_at: '2026-02-08T12:00:00Z' })).toBe(eventIdOf({ ...login, occurred_at: '2026-02-08T12:00:00Z', metadata: {}, context: {} }));
  });

  it('tells users apart as ingest stores them: any text id in its own case ("Ana" and "ana" are two), a configured type like any other', () => {
    const at = '2026-02-08T12:00:00Z';
    const of = (user_id: string, interaction_type = 'report_viewed') => eventIdOf({ user_id, interaction_type, occurred_at: at });
    expect(of('Ana')).not.toBe(of('ana'));
    expect(of('Ana')).toBe(of('Ana'));
    expect(of('user:42/ü')).toMatch(/^content:[A-Za-z0-9_-]{43}$/);
    expect(of('user:42/ü', 'billing:upgrade')).not.toBe(of('user:42/ü'));
  });

  it('cannot be formed without occurred_at or a key: the server\'s clock would make every retry another interaction', () => {
    expect(eventIdOf(login)).toBeNull();
    expect(eventIdOf(login, { index: 2 })).toBeNull();
  });
});

describe('canonical JSON', () => {
  it('sorts every object\'s keys and keeps arrays and values as JSON writes them', () => {
    expect(canonicalJson({ b: 1, a: [{ z: true, y: null }, 'é', 1.5e-7], '\u00e9': 0 })).toBe('{"a":[{"y":null,"z":true},"é",1.5e-7],"b":1,"é":0}');
    // Metadata may hold a __proto__ key (the schema keeps it as sent): it is content like any other.
    expect(canonicalJson(JSON.parse('{"b":2,"__proto__":{"a":1}}'))).toBe('{"__proto__":{"a":1},"b":2}');
  });
});

describe('the Idempotency-Key header', () => {
  it('is optional, and taken as sent when it is 1 to 255 visible ASCII characters', () => {
    expect(parseIdempotencyKey(undefined)).toEqual({ ok: true, value: undefined });
    for (const key of ['a', '7f3a9c2e-8b4d-4e5f-9a6b-7c8d9e0f1a2b', 'order 42/retry', 'k'.repeat(255)]) expect(parseIdempotencyKey(key)).toEqual({ ok: true, value: key });
  });

  it('is refused, naming the header, when empty, too long, padded, or not ASCII', () => {
    for (const key of ['', ' k', 'k ', 'k'.repeat(256), 'naïve', 'tab\there']) {
      const parsed = parseIdempotencyKey(key);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.problems.map((problem) => problem.field)).toEqual(['Idempotency-Key']);
    }
  });
});
