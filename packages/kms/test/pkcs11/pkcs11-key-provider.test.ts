import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, FileKeyStore, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { createPkcs11MasterKey, Pkcs11KeyProvider } from '../../src/pkcs11';
import * as pkcs11js from 'pkcs11js';
import { codeOf, errorOf } from '../support/codes';
import { createSoftHsmToken, describeWithSoftHsm, type SoftHsmToken } from '../support/softhsm';

const run = promisify(execFile);

describeWithSoftHsm('Pkcs11KeyProvider against SoftHSM2', () => {
  let token: SoftHsmToken;
  const providers: Pkcs11KeyProvider[] = [];
  const provider = (
    keyLabel: string,
    extra: Partial<ConstructorParameters<typeof Pkcs11KeyProvider>[0]> = {},
  ) => {
    const p = new Pkcs11KeyProvider({
      library: token.library,
      tokenLabel: token.tokenLabel,
      keyLabel,
      pin: token.pin,
      ...extra,
    });
    providers.push(p);
    return p;
  };
  const tokenOptions = (keyLabel: string) => ({
    library: token.library,
    tokenLabel: token.tokenLabel,
    keyLabel,
    pin: token.pin,
  });

  beforeAll(async () => {
    token = createSoftHsmToken('pkcs11-provider');
    await createPkcs11MasterKey(tokenOptions('master-v1'));
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
  });
  afterAll(() => token?.remove());

  it('creates a master key once per label (a rotation takes a new label)', async () => {
    expect(await codeOf(createPkcs11MasterKey(tokenOptions('master-v1')))).toBe(ErrorCodes.CRYPTO_KEY_EXISTS);
  });

  it('wraps and unwraps a data key in the token, bound to the key id and version', async () => {
    const p = provider('master-v1');
    const dataKey = randomBytes(32);
    const wrapped = await p.wrapKey(dataKey, { keyId: 'pii', version: 1 });
    expect(wrapped).toMatch(/^p11g1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{64}$/);
    expect(wrapped).not.toContain(dataKey.toString('base64url'));
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 1 })).equals(dataKey)).toBe(true);
    // Two wraps of one key differ (random IV).
    expect(await p.wrapKey(dataKey, { keyId: 'pii', version: 1 })).not.toBe(wrapped);

    // A wrapped key copied to another key id or version does not unwrap.
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'other', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'pii', version: 2 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    // A flipped bit, a truncated blob, another provider's blob: refused, never garbage.
    const parts = wrapped.split('.');
    const sealed = Buffer.from(parts[2]!, 'base64url');
    sealed[5]! ^= 1;
    const flipped = `${parts[0]}.${parts[1]}.${sealed.toString('base64url')}`;
    for (const bad of [flipped, wrapped.slice(0, -4), 'kw1.AAAA.BBBB', '', 'p11g1.!!.??']) {
      expect(await codeOf(p.unwrapKey(bad, { keyId: 'pii', version: 1 }))).toBe(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      );
    }
    // The session that saw the failure was dropped; the pool still works.
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 1 })).equals(dataKey)).toBe(true);
  });

  it('runs concurrent wraps on a bounded session pool', async () => {
    const p = provider('master-v1', { sessions: 2 });
    const keys = Array.from({ length: 24 }, () => randomBytes(32));
    const wrapped = await Promise.all(keys.map((k, i) => p.wrapKey(k, { keyId: 'k', version: i + 1 })));
    const back = await Promise.all(wrapped.map((w, i) => p.unwrapKey(w, { keyId: 'k', version: i + 1 })));
    back.forEach((k, i) => expect(k.equals(keys[i]!)).toBe(true));
  });

  it('names the master key by label and a check value computed in the token', async () => {
    const id = await provider('master-v1').masterKeyId();
    expect(id).toMatch(/^p11:master-v1:[A-Za-z0-9_-]{16}$/);
    expect(await provider('master-v1').masterKeyId()).toBe(id);
  });

  it('encrypts and decrypts through a KeyRing whose data keys it wraps', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider('master-v1'), store });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    await ring.close();
    const again = await KeyRing.open({ provider: provider('master-v1'), store });
    expect(again.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    expect((await store.loadKeys())[0]!.versions[0]!.wrappedKey).toMatch(
      /^mk1\.p11:master-v1:[A-Za-z0-9_-]{16}\.p11g1\./,
    );
    await again.close();
  });

  it('rotates to a new master key (new label) with KeyRing.rotateMaster; the old key is then not needed', async () => {
    await createPkcs11MasterKey(tokenOptions('master-v2'));
    const store = new MemoryKeyStore();
    const before = await KeyRing.open({ provider: provider('master-v1'), store });
    await before.createKey('pii');
    const envelope = before.encrypt('pii', 'grace@example.com', { aad: 'users.email' });
    const subjectValue = await before.encryptForSubject('subject-1', '4111 1111 1111 1111', {
      aad: 'cards.pan',
    });
    await before.close();

    const during = await KeyRing.open({
      provider: provider('master-v2'),
      previousProvider: provider('master-v1'),
      store,
    });
    const report = await during.rotateMaster();
    expect(report).toMatchObject({ complete: true, finished: true, failed: [] });
    expect(report.rewrapped).toBeGreaterThanOrEqual(3); // ring secret, pii v1, the subject key
    expect(report.masterKeyId).toMatch(/^p11:master-v2:/);
    expect(report.previousMasterKeyId).toMatch(/^p11:master-v1:/);
    await during.close();

    const after = await KeyRing.open({ provider: provider('master-v2'), store });
    expect(after.decryptString(envelope, { aad: 'users.email' })).toBe('grace@example.com');
    expect(await after.decryptStringForSubject('subject-1', subjectValue, { aad: 'cards.pan' })).toBe(
      '4111 1111 1111 1111',
    );
    await after.close();
    // Every wrapped key is now under v2: the old master key alone no longer opens the ring.
    expect(await codeOf(KeyRing.open({ provider: provider('master-v1'), store }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it('decrypts in a new process that reopens the token (process restart)', async () => {
    const storePath = join(token.dir, 'keys.json');
    const ring = await KeyRing.open({
      provider: provider('master-v1'),
      store: new FileKeyStore({ path: storePath }),
    });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'linus@example.com', { aad: 'users.email' });
    await ring.close();

    const child = join(__dirname, 'restart-child.js');
    const args = [child, storePath, token.library, token.tokenLabel, 'master-v1', envelope];
    const { stdout } = await run(process.execPath, args, {
      env: { ...token.env, BULWARK_PKCS11_PIN: token.pin },
    });
    expect(JSON.parse(stdout)).toEqual({ plaintext: 'linus@example.com' });

    // The same child with a wrong PIN gets the typed refusal, not the plaintext.
    const failed = await run(process.execPath, args, {
      env: { ...token.env, BULWARK_PKCS11_PIN: '0000' },
    }).catch((error: { stdout: string }) => error);
    expect(JSON.parse(failed.stdout)).toEqual({ code: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED });
  });

  it('refuses a wrong PIN with ERR_CRYPTO_KMS_ACCESS_DENIED and never shows the PIN', async () => {
    const error = await errorOf(provider('master-v1', { pin: 'wrong-pin-123' }).masterKeyId());
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(error.message).toContain('CKR_PIN_INCORRECT');
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain('wrong-pin-123');
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain(token.pin);
  });

  it('refuses a wrong PIN even while another provider of the process is logged in to the token', async () => {
    const good = provider('master-v1');
    await good.masterKeyId(); // logged in, session open
    expect(await codeOf(provider('master-v1', { pin: 'wrong-pin-123' }).masterKeyId())).toBe(
      ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
    );
    expect(await good.masterKeyId()).toMatch(/^p11:master-v1:/);
  });

  it('reads the PIN from BULWARK_PKCS11_PIN (or a named variable), and says which variable is missing', async () => {
    const fromEnv = new Pkcs11KeyProvider({
      ...tokenOptions('master-v1'),
      pin: undefined,
      env: { BULWARK_PKCS11_PIN: token.pin },
    });
    providers.push(fromEnv);
    expect(await fromEnv.masterKeyId()).toMatch(/^p11:master-v1:/);
    const missing = new Pkcs11KeyProvider({
      ...tokenOptions('master-v1'),
      pin: undefined,
      pinVariable: 'HSM_PIN',
      env: {},
    });
    providers.push(missing);
    const error = await errorOf(missing.masterKeyId());
    expect(error.code).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(error.message).toContain('HSM_PIN');
  });

  it('answers a missing key ERR_CRYPTO_MASTER_KEY_UNUSABLE and a missing token ERR_CRYPTO_KMS_UNAVAILABLE', async () => {
    const noKey = await errorOf(provider('no-such-key').wrapKey(randomBytes(32), { keyId: 'k', version: 1 }));
    expect(noKey.code).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
    expect(noKey.message).toContain('no secret key labelled no-such-key');
    expect(await codeOf(provider('master-v1', { tokenLabel: 'no-such-token' }).masterKeyId())).toBe(
      ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
    );
  });

  it('answers a PKCS#11 library that does not load with a typed error, then still opens the right one', async () => {
    const error = await errorOf(
      provider('master-v1', { library: join(token.dir, 'no-such-library.so') }).masterKeyId(),
    );
    expect(error.code).toBe(ErrorCodes.CRYPTO_KEY_PROVIDER);
    expect(error.message).toContain('loading the PKCS#11 library');
    expect(await provider('master-v1').masterKeyId()).toMatch(/^p11:master-v1:/);
  });

  it('keeps the master key in the token: CKA_VALUE cannot be read, and an extractable key is refused', async () => {
    const module = new pkcs11js.PKCS11();
    module.load(token.library);
    module.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    try {
      const slot = module
        .C_GetSlotList(true)
        .find((s) => module.C_GetTokenInfo(s).label.trimEnd() === token.tokenLabel)!;
      const session = module.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      module.C_Login(session, pkcs11js.CKU_USER, token.pin);
      module.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'master-v1' }]);
      const [key] = module.C_FindObjects(session, 1);
      module.C_FindObjectsFinal(session);
      expect(() => module.C_GetAttributeValue(session, key!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
      const [extractable] = module.C_GetAttributeValue(session, key!, [{ type: pkcs11js.CKA_EXTRACTABLE }]);
      expect((extractable!.value as Buffer)[0]).toBe(0);
      // An AES key that could leave the token, made by hand:
      module.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_LABEL, value: 'leaky' },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
      ]);
      module.C_CloseSession(session);
    } finally {
      module.C_Finalize();
      module.close();
    }
    const refused = await errorOf(provider('leaky').masterKeyId());
    expect(refused.code).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
    expect(refused.message).toMatch(/extractable/);
    expect(await provider('leaky', { allowExtractableMasterKey: true }).masterKeyId()).toMatch(/^p11:leaky:/);
  });

  it('closes while wraps are running: each finishes or fails ERR_CRYPTO_CLOSED, none crashes', async () => {
    const p = provider('master-v1', { sessions: 2 });
    await p.masterKeyId();
    const running = Array.from({ length: 12 }, (_, i) =>
      p.wrapKey(randomBytes(32), { keyId: 'k', version: i + 1 }),
    );
    await p.close();
    const settled = await Promise.allSettled(running);
    for (const result of settled) {
      if (result.status === 'fulfilled') expect(result.value).toMatch(/^p11g1\./);
      else expect(result.reason).toMatchObject({ code: ErrorCodes.CRYPTO_CLOSED });
    }
    // The library was released: a new provider opens the token again.
    expect(await provider('master-v1').masterKeyId()).toMatch(/^p11:master-v1:/);
  });

  it('refuses calls after close() with ERR_CRYPTO_CLOSED', async () => {
    const p = provider('master-v1');
    await p.masterKeyId();
    await p.close();
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'k', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_CLOSED,
    );
  });

  it('validates options at construction, naming the option and never the PIN', () => {
    const base = { library: '/x.so', tokenLabel: 't', keyLabel: 'k', pin: 'p' };
    expect(() => new Pkcs11KeyProvider({ ...base, keyLabel: 'has space' })).toThrow(/keyLabel/);
    expect(() => new Pkcs11KeyProvider({ ...base, library: '' })).toThrow(/library/);
    expect(() => new Pkcs11KeyProvider({ ...base, sessions: 0 })).toThrow(/sessions/);
    expect(() => new Pkcs11KeyProvider({ ...base, pin: '' })).toThrow(/pin/);
  });
});
