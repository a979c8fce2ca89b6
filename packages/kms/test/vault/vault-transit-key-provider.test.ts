/**
 * VaultTransitKeyProvider at its HTTP boundary: a local server answers as Vault's transit engine
 * does (request and response shapes of the transit API docs: /v1/<mount>/keys|encrypt|decrypt|
 * rewrap/<key>, `{ data: … }` / `{ errors: [...] }`), and checks the requests. No Vault here: this
 * proves the requests and the handling of Vault's answers, not Vault itself.
 */
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { rewrapTransitKeys, VaultTransitKeyProvider } from '../../src/vault';
import { codeOf, errorOf } from '../support/codes';
import { startHttpStub, type HttpStub, type StubRequest, type StubResponse } from '../support/http-stub';

const TOKEN = 'hvs.stub-token-never-logged';

/** A fake transit engine with one derived aes256-gcm96 key named `bulwark`. */
function fakeTransit() {
  const state = { latest: 1, minDecryption: 1 };
  const sealed = new Map<string, { plaintext: string; context: string; version: number }>();
  const seal = (plaintext: string, context: string) => {
    const ciphertext = `vault:v${state.latest}:${randomBytes(40).toString('base64')}`;
    sealed.set(ciphertext, { plaintext, context, version: state.latest });
    return ciphertext;
  };
  const open = (req: StubRequest) => {
    const entry = sealed.get(req.json.ciphertext);
    if (entry === undefined || entry.context !== req.json.context) return undefined;
    return entry.version < state.minDecryption ? undefined : entry;
  };
  const bad = { status: 400, body: { errors: ['cipher: message authentication failed'] } };
  const handler = (req: StubRequest): StubResponse => {
    if (req.headers['x-vault-token'] !== TOKEN)
      return { status: 403, body: { errors: ['permission denied'] } };
    if (req.method === 'GET' && req.path === '/v1/transit/keys/bulwark') {
      return {
        status: 200,
        body: {
          data: {
            name: 'bulwark',
            type: 'aes256-gcm96',
            derived: true,
            latest_version: state.latest,
            min_decryption_version: state.minDecryption,
            supports_encryption: true,
            supports_decryption: true,
          },
        },
      };
    }
    if (req.method === 'POST' && req.path === '/v1/transit/encrypt/bulwark') {
      if (typeof req.json.context !== 'string')
        return { status: 400, body: { errors: ["missing 'context' for key derivation"] } };
      return {
        status: 200,
        body: { data: { ciphertext: seal(req.json.plaintext, req.json.context), key_version: state.latest } },
      };
    }
    if (req.method === 'POST' && req.path === '/v1/transit/decrypt/bulwark') {
      const entry = open(req);
      return entry === undefined ? bad : { status: 200, body: { data: { plaintext: entry.plaintext } } };
    }
    if (req.method === 'POST' && req.path === '/v1/transit/rewrap/bulwark') {
      const entry = open(req);
      return entry === undefined
        ? bad
        : {
            status: 200,
            body: { data: { ciphertext: seal(entry.plaintext, entry.context), key_version: state.latest } },
          };
    }
    return { status: 404, body: { errors: [] } };
  };
  return { handler, state };
}

describe('VaultTransitKeyProvider (fetch against a local transit stand-in)', () => {
  let stub: HttpStub;
  let transit: ReturnType<typeof fakeTransit>;
  const provider = (extra: Partial<ConstructorParameters<typeof VaultTransitKeyProvider>[0]> = {}) =>
    new VaultTransitKeyProvider({
      address: stub.url,
      token: TOKEN,
      keyName: 'bulwark',
      allowInsecureHttp: true,
      ...extra,
    });

  beforeEach(async () => {
    transit = fakeTransit();
    stub = await startHttpStub(transit.handler);
  });
  afterEach(() => stub.close());

  it('wraps with transit/encrypt and unwraps with transit/decrypt, with the token and the context', async () => {
    const p = provider({ namespace: 'team-a' });
    const dataKey = randomBytes(32);
    expect(await p.masterKeyId()).toBe('vault:transit/bulwark');
    const wrapped = await p.wrapKey(dataKey, { keyId: 'pii', version: 2 });
    expect(wrapped).toMatch(/^vt1\.1\.[A-Za-z0-9_-]+$/);
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 2 })).equals(dataKey)).toBe(true);

    const encrypt = stub.requests.find((r) => r.path === '/v1/transit/encrypt/bulwark')!;
    expect(encrypt.method).toBe('POST');
    expect(encrypt.headers['x-vault-token']).toBe(TOKEN);
    expect(encrypt.headers['x-vault-namespace']).toBe('team-a');
    expect(encrypt.headers['x-vault-request']).toBe('true');
    expect(encrypt.json.plaintext).toBe(dataKey.toString('base64'));
    expect(Buffer.from(encrypt.json.context, 'base64').toString()).toBe('bulwark/key-wrap/v1["pii",2]');
    const decrypt = stub.requests.find((r) => r.path === '/v1/transit/decrypt/bulwark')!;
    expect(decrypt.json.context).toBe(encrypt.json.context);
  });

  it('does not unwrap a wrapped key moved to another key id or version', async () => {
    const p = provider();
    const wrapped = await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'pii', version: 2 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    expect(await codeOf(p.unwrapKey('vt1.2.' + wrapped.split('.')[2], { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    ); // version label edited
    expect(await codeOf(p.unwrapKey('awskms1.AAAA', { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it('follows transit key versions: after a rotation new wraps use the latest version, rewrap upgrades old ones in Vault', async () => {
    const p = provider();
    const dataKey = randomBytes(32);
    const v1 = await p.wrapKey(dataKey, { keyId: 'pii', version: 1 });
    transit.state.latest = 2; // vault write -f transit/keys/bulwark/rotate
    const v2 = await p.rewrap(v1, { keyId: 'pii', version: 1 });
    expect(p.keyVersion(v1)).toBe(1);
    expect(p.keyVersion(v2)).toBe(2);
    // A version label that is not a decimal version number is not one of ours.
    for (const label of ['A', '-1', '01', '1e3', '0']) {
      expect(p.keyVersion(`vt1.${label}.${v1.split('.')[2]}`)).toBeUndefined();
    }
    const rewrap = stub.requests.find((r) => r.path === '/v1/transit/rewrap/bulwark')!;
    expect(rewrap.json).not.toHaveProperty('plaintext');
    transit.state.minDecryption = 2; // the old version retired
    expect((await p.unwrapKey(v2, { keyId: 'pii', version: 1 })).equals(dataKey)).toBe(true);
    expect(await codeOf(p.unwrapKey(v1, { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it('re-wraps a whole key store to the latest transit version in Vault, so min_decryption_version can rise', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    const subjectValue = await ring.encryptForSubject('subject-1', 'grace', { aad: 'notes.body' });
    await ring.close();

    transit.state.latest = 2; // vault write -f transit/keys/bulwark/rotate
    const report = await rewrapTransitKeys(provider(), store);
    expect(report).toMatchObject({
      latestVersion: 2,
      rewrapped: 3,
      current: 0,
      foreign: 0,
      conflicts: 0,
      failed: [],
      lowestVersion: 2,
      finished: true,
    });
    const rewraps = stub.requests.filter((r) => r.path === '/v1/transit/rewrap/bulwark');
    expect(rewraps).toHaveLength(3);
    expect(rewraps.every((r) => r.json.plaintext === undefined && typeof r.json.context === 'string')).toBe(
      true,
    );

    transit.state.minDecryption = 2; // safe now: nothing under v1 is left
    const after = await KeyRing.open({ provider: provider(), store });
    expect(after.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    expect(await after.decryptStringForSubject('subject-1', subjectValue, { aad: 'notes.body' })).toBe(
      'grace',
    );
    await after.close();
    // Resumable / idempotent: a second run finds everything current.
    expect(await rewrapTransitKeys(provider(), store)).toMatchObject({
      rewrapped: 0,
      current: 3,
      lowestVersion: 2,
    });

    // A key of another master key (a rotation between providers in progress) is left alone.
    const mixed = new MemoryKeyStore();
    const legacy = 'mk1.k1-AAAAAAAAAAAAAAAAAAAAAA.kw1.AAAA.BBBB';
    await mixed.insertKeyVersion('legacy', {
      version: 1,
      algorithm: 'aes-256-gcm',
      createdAt: new Date().toISOString(),
      wrappedKey: legacy,
    });
    expect(await rewrapTransitKeys(provider(), mixed)).toMatchObject({
      rewrapped: 0,
      foreign: 1,
      lowestVersion: undefined,
    });
    expect((await mixed.loadKeys())[0]!.versions[0]!.wrappedKey).toBe(legacy);
  });

  it('an interrupted run reports no lowestVersion (records it did not reach may be older)', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    await ring.close();
    transit.state.latest = 2;
    const stop = new AbortController();
    stub.handle((req) => {
      if (req.path.includes('/rewrap/')) stop.abort(); // stop after the first record (the ring secret)
      return transit.handler(req);
    });
    const report = await rewrapTransitKeys(provider(), store, { signal: stop.signal });
    expect(report).toMatchObject({ rewrapped: 1, finished: false, lowestVersion: undefined });
    // key:pii/1 is still under version 1: raising min_decryption_version to 2 now would lose it.
    expect(
      provider().keyVersion(
        (await store.loadKeys())[0]!.versions[0]!.wrappedKey.replace(/^mk1\.[^.]+\./, ''),
      ),
    ).toBe(1);
    stub.handle(transit.handler);
    expect(await rewrapTransitKeys(provider(), store)).toMatchObject({
      rewrapped: 1,
      current: 1,
      finished: true,
      lowestVersion: 2,
    });
  });

  it('reports the records Vault refuses to re-wrap and leaves them as they were', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    await ring.close();
    const before = JSON.stringify(await store.loadKeys());
    transit.state.latest = 2;
    stub.handle((req) =>
      req.path.includes('/rewrap/')
        ? { status: 403, body: { errors: ['permission denied'] } }
        : transit.handler(req),
    );
    const report = await rewrapTransitKeys(provider(), store);
    expect(report.failed).toEqual([
      { record: 'ring', code: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED },
      { record: 'key:pii/1', code: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED },
    ]);
    expect(report).toMatchObject({ rewrapped: 0, lowestVersion: 1 }); // do not raise min_decryption_version
    expect(JSON.stringify(await store.loadKeys())).toBe(before);
  });

  it('backs a KeyRing', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    await ring.close();
    const again = await KeyRing.open({ provider: provider(), store });
    expect(again.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    await again.close();
  });

  it('retries 503 (sealed) and 429, then succeeds; gives up after maxAttempts with ERR_CRYPTO_KMS_UNAVAILABLE', async () => {
    const p = provider({ maxAttempts: 3 });
    await p.masterKeyId();
    let failures = 0;
    stub.handle((req) => {
      if (req.path.includes('/encrypt/') && failures < 2) {
        failures++;
        return { status: failures === 1 ? 503 : 429, body: { errors: ['Vault is sealed'] } };
      }
      return transit.handler(req);
    });
    await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(stub.requests.filter((r) => r.path.includes('/encrypt/'))).toHaveLength(3);

    stub.requests.length = 0;
    stub.handle(() => ({ status: 500, body: { errors: ['internal error'] } }));
    const error = await errorOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
    expect(stub.requests).toHaveLength(3);
  });

  it('times out a request that gets no answer (ERR_CRYPTO_KMS_UNAVAILABLE)', async () => {
    const p = provider({ timeoutMs: 150, maxAttempts: 2 });
    stub.handle(() => ({ status: 200, hang: true }));
    expect(await codeOf(p.masterKeyId())).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
    expect(stub.requests).toHaveLength(2);
  });

  it('maps refusals to typed errors, without retrying them and without the token', async () => {
    const denied = await errorOf(provider({ token: 'hvs.wrong' }).masterKeyId());
    expect(denied.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(inspect(denied, { depth: 20 })).not.toMatch(/hvs\./);
    expect(stub.requests).toHaveLength(1);
    // A key that does not exist (Vault would upsert it on encrypt: refused before).
    expect(
      await codeOf(provider({ keyName: 'missing' }).wrapKey(randomBytes(32), { keyId: 'k', version: 1 })),
    ).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
    expect(stub.requests.some((r) => r.path.includes('/encrypt/missing'))).toBe(false);
    // A key without derivation cannot bind the context.
    stub.handle(() => ({
      status: 200,
      body: { data: { derived: false, supports_encryption: true, supports_decryption: true } },
    }));
    expect(await codeOf(provider().masterKeyId())).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
  });

  it('takes the token from a function (renewing auth) and validates options', async () => {
    const p = provider({ token: async () => TOKEN });
    expect(await p.masterKeyId()).toBe('vault:transit/bulwark');
    expect(
      () => new VaultTransitKeyProvider({ address: 'http://vault:8200', token: 't', keyName: 'k' }),
    ).toThrow(/https/);
    expect(
      () => new VaultTransitKeyProvider({ address: 'https://vault:8200', token: 't', keyName: 'a/b' }),
    ).toThrow(/keyName/);
    expect(
      () => new VaultTransitKeyProvider({ address: 'https://vault:8200', keyName: 'k', env: {} }),
    ).toThrow(/VAULT_TOKEN/);
    await p.close();
    expect(await codeOf(p.masterKeyId())).toBe(ErrorCodes.CRYPTO_CLOSED);
  });
});
