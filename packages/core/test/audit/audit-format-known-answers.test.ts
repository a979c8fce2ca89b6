import { createHash } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEvent } from '../../src/audit/audit-event';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { Redactor } from '../../src/audit/redactor';
import { requestAuditEvent } from '../../src/http/request-audit';

/**
 * Known answers for the stored format: the entries, leaf hashes and Merkle roots of a fixed run,
 * as the audit engine wrote them before its hot path was specialised (request events, redaction
 * and pseudonymisation, non-ASCII, escapes, -0, Dates, keyed and unkeyed). Any fast path that
 * changed a single stored byte, hash or root fails here.
 */
function events(): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = 0; i < 60; i++) {
    if (i % 3 === 0) {
      out.push(
        requestAuditEvent(
          {
            method: ['GET', 'POST', 'DELETE', 'M-SEARCH'][i % 4]!,
            route: i % 5 ? '/hello' : '/ünïcode/"q"',
            status: [200, 403, 500, 401][i % 4]!,
            latencyMs: i / 7,
            requestId: `req-${i}`,
            principal: i % 2 ? { id: `user-${i % 17}`, type: 'user' } : undefined,
            ip: i % 6 ? '127.0.0.1' : '::ffff:10.0.0.1',
            userAgent: i % 10 ? undefined : 'Mozilla/5.0 "x"',
            resource: i % 4 ? { type: 'hello', ...(i % 8 ? {} : { id: `${i}` }) } : undefined,
            reasonId: 'rule_allow',
            errorCode: i % 4 === 2 ? 'EBADCSRFTOKEN' : undefined,
          },
          'http',
        ),
      );
    } else {
      out.push({
        actor: { id: `svc-${i % 5}`, type: 'service', ...(i % 7 ? {} : { sessionId: 's-1' }) },
        action: 'patient.read',
        outcome: 'success',
        ...(i % 9 ? {} : { reason: 'because\nnewline' }),
        ...(i % 2 ? { category: 'phi' } : {}),
        ...(i % 11 ? {} : { time: new Date(1e12 + i) }),
        details: {
          password: 'hunter2',
          card: '4111 1111 1111 1111',
          n: i,
          nested: { email: `a${i}@x.org`, list: [1, 'two', null, true, { k: -0 }] },
          emoji: '😀',
          d: new Date(0),
        },
      });
    }
  }
  return out;
}

describe('audit format known answers', () => {
  it.each([
    [
      'unkeyed',
      undefined,
      'b552254f4ff1d45015c88d5b15318b380a6b7bbdcd78f73bef63a2b924b8dd8c',
      'afe3c9f90e58ac5028c4c3dddf0aee68846a42859f6e110a26c86b37c77b89ef',
      '64c9867bab3b72dc14f65ce745393728896bf2b50386045254af61a890175b84',
      '655738ec8f257989250d48d1d8615724ba0bf019053275dc3e9e822e21912c75',
    ],
    [
      'HMAC-keyed',
      Buffer.alloc(32, 9),
      'e668b1fcfa40cc347ef3496a3ac87ae564cbe98e4767c4836163c482f5c38998',
      'fd9d06062cf67a52a31834f3258907d5d4b59785783379810ed2d274682d55df',
      '01ddbcbcb5f0241e6f121b94586446ae3af4a77e40788bdc579ef123e8c3fb44',
      'c078ec363a51cbcad070fabaaf700772085ffe70bebabd357ccff9dcce69d013',
    ],
  ])(
    '%s: stored entries, last leaf hash and roots are unchanged',
    async (_n, hmacKey, lines, root, root31, leaf) => {
      let t = Date.UTC(2026, 0, 1);
      const log = await AuditLog.open({
        store: new MemoryAuditStore(),
        clock: () => new Date((t += 7)),
        hmacKey,
        redactor: new Redactor({
          classification: { email: 'personal' },
          pseudonymize: { key: Buffer.alloc(32, 1) },
        }),
      });
      const stored = await Promise.all(events().map((e) => log.append(e)));
      const text = stored.map((e) => JSON.stringify(e)).join('\n');
      expect(createHash('sha256').update(text).digest('hex')).toBe(lines);
      expect(stored[59]!.leafHash).toBe(leaf);
      expect(log.root()).toBe(root);
      expect(log.root(31)).toBe(root31);
      expect((await log.verify({ record: false })).ok).toBe(true);
      await log.close();
    },
  );
});
