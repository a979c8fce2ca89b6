import { randomBytes } from 'node:crypto';
import {
  AuditLog,
  BruteForceGuard,
  ConsentManager,
  MemoryAuditStore,
  PolicyEngine,
  TokenService,
  type AuditEntry,
  type PolicyDocument,
} from '@bulwark/core';

export const policy: PolicyDocument = {
  version: 1,
  roles: { reader: {}, editor: { inherits: ['reader'] } },
  policies: [
    {
      id: 'docs',
      rules: [
        {
          id: 'read-docs',
          effect: 'allow',
          roles: ['reader'],
          actions: ['read'],
          resources: ['docs', 'docs/*', 'hello'],
        },
        {
          id: 'write-docs',
          effect: 'allow',
          roles: ['editor'],
          actions: ['write'],
          resources: ['docs', 'docs/*'],
        },
      ],
    },
  ],
};

/** Real services: HS256 TokenService, PolicyEngine, AuditLog on a memory store, ConsentManager, BruteForceGuard. */
export async function testKit() {
  const secret = randomBytes(32);
  const tokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: secret },
    issuer: 'bulwark-test',
  });
  // Signs tokens that were issued an hour ago and expired 30 minutes later.
  const pastTokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: secret },
    issuer: 'bulwark-test',
    clock: () => new Date(Date.now() - 3_600_000),
  });
  const otherIssuerTokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: secret },
    issuer: 'https://evil.test',
  });
  const otherTokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: randomBytes(32) },
    issuer: 'bulwark-test',
  });
  const store = new MemoryAuditStore();
  const auditLog = await AuditLog.open({ store });
  const consent = new ConsentManager();
  consent.registerPurpose({
    id: 'marketing',
    name: 'Marketing e-mails',
    version: 1,
    text: 'We may e-mail you offers.',
  });
  const bruteForce = new BruteForceGuard({
    ip: false,
    account: false,
    ipAccount: { maxFailures: 3, windowSec: 60, lockoutSec: 30, maxLockoutSec: 60 },
  });
  const authorizer = new PolicyEngine({ policy });
  const sign = (sub: string, roles: string[] = ['reader']) => tokens.sign({ roles }, { subject: sub });
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const attacks = {
    algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', roles: ['editor'], iat: now, exp: now + 600, iss: 'bulwark-test' })}.`,
    expired: await pastTokens.sign({ roles: ['reader'] }, { subject: 'alice', ttlSec: 1800 }),
    forged: await otherTokens.sign({ roles: ['editor'] }, { subject: 'mallory' }),
    /** Signed with the right key by a service of another issuer: only the "iss" check fails. */
    otherIssuer: await otherIssuerTokens.sign({ roles: ['editor'] }, { subject: 'mallory' }),
  };
  async function entries(): Promise<AuditEntry[]> {
    await auditLog.flush();
    return (await auditLog.query({ limit: 1000 })).entries;
  }
  return {
    kit: { tokens, authorizer, auditLog, consent, bruteForce },
    tokens,
    auditLog,
    consent,
    sign,
    attacks,
    entries,
    close: () => auditLog.close(),
  };
}

export type TestKit = Awaited<ReturnType<typeof testKit>>;
