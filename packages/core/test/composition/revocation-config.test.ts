import { randomBytes } from 'node:crypto';
import { BulwarkConfigError, MemoryRevocationStore, TokenRevocation, createBulwark } from '../../src';

const tokens = { algorithms: ['HS256' as const], signingKey: { key: randomBytes(32) } };

describe('createBulwark: revocation section', () => {
  it('wires a TokenRevocation from a store, { redis } or "memory", and from stores.revocation', async () => {
    const memory = await createBulwark({ tokens, revocation: { store: 'memory' } });
    expect(memory.revocation).toBeInstanceOf(TokenRevocation);
    const given = new MemoryRevocationStore();
    const shared = await createBulwark({ tokens, revocation: {}, stores: { revocation: given } });
    const token = await shared.tokens!.sign({}, { subject: 'alice' });
    await shared.revocation!.revoke(token);
    const { jti } = (await shared.tokens!.verify(token)).payload;
    expect((await given.status(jti, 'alice', Date.now())).tokenRevoked).toBe(true);
    await Promise.all([memory.close(), shared.close()]);
  });

  it.each([
    [{ revocation: { store: 'memory' } }, 'revocation', /requires the tokens section/],
    [{ tokens, revocation: {} }, 'revocation.store', /is required/],
    [{ tokens, revocation: { store: { redis: {} } } }, 'revocation.store.client', /ioredis/],
    [
      { tokens, revocation: { store: 'memory', maxTokenLifetimeSec: -1 } },
      'revocation.maxTokenLifetimeSec',
      /positive/,
    ],
    [{ tokens, revocation: { store: 'memory', ttl: 1 } }, 'revocation.ttl', /not a known option/],
  ])('refuses a bad section with an error naming its path (%#)', async (config, path, message) => {
    const err = await createBulwark(config as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect(err).toMatchObject({ details: { path } });
    expect((err as Error).message).toMatch(message);
  });
});
