import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { checkBreakGlassLimits } from '../../src/authz/break-glass-registry';
import { createBulwark, type BulwarkConfig } from '../../src/bulwark';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import {
  intInRange,
  nonEmptyString,
  oneOf,
  positiveInt,
  rejectUnknown,
  section,
} from '../../src/util/options';
import { POLICY_YAML, weakPasswords } from '../composition/composition-helpers';

function thrown(fn: () => unknown): BulwarkConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect((err as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
    return err as BulwarkConfigError;
  }
  throw new Error('expected a config error');
}

async function rejected(promise: Promise<unknown>): Promise<BulwarkConfigError> {
  try {
    const value = await promise;
    await (value as { close?: () => Promise<void> })?.close?.();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    return err as BulwarkConfigError;
  }
  throw new Error('expected a config error');
}

describe('the option-reading kit', () => {
  it('names the full path and what was given: `audit.retention.days must be a positive integer, got -1`', () => {
    const err = thrown(() => positiveInt(-1, 'audit.retention.days'));
    expect(err.message).toBe('audit.retention.days must be a positive integer, got -1');
    expect(err.details).toEqual({ path: 'audit.retention.days' });
  });

  it('returns the fallback for undefined and the value when valid', () => {
    expect(positiveInt(undefined, 'a', 7)).toBe(7);
    expect(positiveInt(3, 'a', 7)).toBe(3);
    expect(intInRange(undefined, 'a', 1, 10, 5)).toBe(5);
    expect(oneOf(undefined, 'a', ['x', 'y'] as const, 'y')).toBe('y');
    expect(nonEmptyString(' id ', 'a')).toBe(' id ');
  });

  it('refuses non-integers, out-of-range values, unknown choices and blank strings', () => {
    expect(thrown(() => positiveInt(1.5, 'p')).message).toBe('p must be a positive integer, got 1.5');
    expect(thrown(() => positiveInt(Infinity, 'p')).message).toBe(
      'p must be a positive integer, got a non-finite number',
    );
    expect(thrown(() => intInRange(11, 'p', 1, 10)).message).toBe(
      'p must be an integer from 1 to 10, got 11',
    );
    expect(thrown(() => oneOf('z', 'p', ['x', 'y'])).message).toBe('p must be one of x, y, got a string');
    expect(thrown(() => nonEmptyString('   ', 'p', 8)).message).toBe(
      'p must be a non-empty string of at most 8 characters, got a string',
    );
  });

  it('never echoes a string value (it may be a secret)', () => {
    const secret = 'hunter2-very-secret';
    for (const fn of [
      () => positiveInt(secret, 'p'),
      () => oneOf(secret, 'p', ['a']),
      () => nonEmptyString(secret, 'p', 4),
      () => intInRange(secret, 'p', 1, 2),
    ]) {
      expect(thrown(fn).message).not.toContain(secret);
    }
  });

  it('names an unknown key under its section, and refuses a section that is not an object', () => {
    expect(thrown(() => rejectUnknown({ dayz: 1 }, ['days'], 'audit.retention.')).details).toEqual({
      path: 'audit.retention.dayz',
    });
    expect(thrown(() => section([], 'audit', ['store'])).message).toBe(
      'audit must be an object, got an array',
    );
  });
});

describe('createBulwark and the engines word the same mistake the same way', () => {
  const base = { passwords: weakPasswords };

  it('audit.maxBatchSize: AuditLog.open and createBulwark give one message', async () => {
    const engine = await rejected(AuditLog.open({ store: new MemoryAuditStore(), maxBatchSize: 0 }));
    const composed = await rejected(
      createBulwark({ ...base, audit: { store: 'memory', maxBatchSize: 0 } } as BulwarkConfig),
    );
    expect(composed.message).toBe(engine.message);
    expect(composed.message).toBe('audit.maxBatchSize must be a positive integer, got 0');
  });

  it('authz.breakGlass limits: the registry check under the config path', async () => {
    const engine = thrown(() => checkBreakGlassLimits({ maxReasonLength: 0 }, 'authz.breakGlass'));
    const composed = await rejected(
      createBulwark({
        ...base,
        audit: { store: 'memory' },
        authz: {
          policy: POLICY_YAML,
          breakGlass: { maxReasonLength: 0 },
        },
      } as BulwarkConfig),
    );
    expect(composed.message).toBe(engine.message);
    expect(composed.details?.path).toBe('authz.breakGlass.maxReasonLength');
  });

  it('privacy.dsr.responseDays: the engine names the config path it is given', async () => {
    const composed = await rejected(
      createBulwark({ ...base, privacy: { dsr: { store: 'memory', responseDays: -1 } } } as BulwarkConfig),
    );
    expect(composed.message).toBe('privacy.dsr.responseDays must be a positive integer, got -1');
    expect(composed.details?.path).toBe('privacy.dsr.responseDays');
  });

  it.each([
    ['privacy.retention.maxBatches', { retention: { maxBatches: 0 } }, 'must be a positive integer, got 0'],
    [
      'privacy.consent.auditCategory',
      { consent: { store: 'memory', auditCategory: '' } },
      'must be a non-empty string of at most 64 characters, got an empty string',
    ],
  ])('%s: checked by the engine under the config path', async (where, privacy, wording) => {
    const composed = await rejected(createBulwark({ ...base, privacy } as BulwarkConfig));
    expect(composed.message).toBe(`${where} ${wording}`);
    expect(composed.details?.path).toBe(where);
  });
});
