import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { createBulwark } from '../../src/bulwark';
import { productionProblems } from '../../src/composition/production';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { tempDir, weakPasswords } from './composition-helpers';

// ASVS 5.0 V13.3.1 / V16.4.2: the production preset refuses demo-grade settings with one start-up
// error naming each by config path, turned on by NODE_ENV=production or `production: true`.

async function refusal(config: Parameters<typeof createBulwark>[0]): Promise<BulwarkConfigError> {
  const error = await createBulwark(config).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BulwarkConfigError);
  return error as BulwarkConfigError;
}

describe('createBulwark production preset', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
  });
  afterEach(() => remove());

  it('refuses a demo config, listing every problem by path in one error', async () => {
    const err = await refusal({
      production: true,
      passwords: weakPasswords,
      keys: { masterKey: { env: 'NO_SUCH_KEY_VAR' }, store: 'memory' },
      tokens: {
        algorithms: ['EdDSA', 'HS256'],
        allowMixedAlgorithmFamilies: true,
        verification: { jwks: { keys: [] } },
      },
      mfa: { policy: { requiredFor: ['admin'] }, store: 'memory' },
      privacy: { consent: { store: 'memory' }, dsr: { store: 'memory' } },
    });
    expect(err.code).toBe(ErrorCodes.CONFIG_NOT_PRODUCTION_READY);
    const paths = (err.details?.problems as Array<{ path: string }>).map((p) => p.path);
    expect(paths).toEqual([
      'audit',
      'keys.store',
      'tokens.allowMixedAlgorithmFamilies',
      'mfa.store',
      'privacy.consent.store',
      'privacy.dsr.store',
      'stores.processors',
      'stores.breaches',
      'stores.retentionRules',
      'stores.legalHolds',
    ]);
    for (const p of paths) expect(err.message).toContain(`  - ${p} `);
  });

  it('requires an audit HMAC key and a checkpoint schedule on durable stores', async () => {
    const signer = await CheckpointSigner.generate();
    const err = await refusal({
      production: true,
      audit: { store: 'memory', checkpoint: { signingKey: signer, store: 'memory' } },
    });
    expect((err.details?.problems as Array<{ path: string }>).map((p) => p.path)).toEqual([
      'audit.store',
      'audit.hmacKey',
      'audit.checkpoint.every',
      'audit.checkpoint.store',
    ]);
    expect(
      productionProblems({ audit: { store: 'memory' } }, { BULWARK_AUDIT_HMAC_KEY: 'set' }).map(
        (p) => p.path,
      ),
    ).toEqual(['audit.store', 'audit.checkpoint']);
  });

  it('refuses memory-held revocations, sessions without a store and alerts without a spool', () => {
    const paths = (config: Parameters<typeof productionProblems>[0]) =>
      productionProblems(config, {})
        .map((p) => p.path)
        .filter((p) => !p.startsWith('audit'));
    // Shape-only checks: the sections' other options do not matter here.
    const demo = {
      revocation: { store: 'memory' },
      sessions: { secret: 'x'.repeat(32) },
      alerts: { channels: {} },
    } as unknown as Parameters<typeof productionProblems>[0];
    expect(paths(demo)).toEqual(['revocation.store', 'sessions.store', 'alerts.spool']);
    const durable = {
      revocation: { store: { redis: {} } },
      sessions: { secret: 'x'.repeat(32), store: {} },
      alerts: { channels: {}, spool: { dir } },
    } as unknown as Parameters<typeof productionProblems>[0];
    expect(paths(durable)).toEqual([]);
  });

  it('starts a production-grade config, and is on under NODE_ENV=production unless production: false', async () => {
    const signer = await CheckpointSigner.generate();
    const good = {
      audit: {
        store: { file: path.join(dir, 'audit.jsonl'), fsync: 'none' as const },
        hmacKey: randomBytes(32),
        checkpoint: {
          signingKey: signer,
          store: { file: path.join(dir, 'cp.jsonl') },
          every: { entries: 100 },
        },
      },
    };
    const bulwark = await createBulwark({ ...good, production: true });
    await bulwark.close();
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const err = await refusal({ audit: { store: 'memory' } });
      expect(err.code).toBe(ErrorCodes.CONFIG_NOT_PRODUCTION_READY);
      await (await createBulwark({ audit: { store: 'memory' }, production: false })).close();
    } finally {
      process.env.NODE_ENV = previous;
    }
    expect((await refusal({ production: 'yes' as never })).details).toEqual({ path: 'production' });
  });
});
