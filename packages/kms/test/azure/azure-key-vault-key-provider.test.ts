/**
 * AzureKeyVaultKeyProvider at the SDK's HTTP boundary: @azure/keyvault-keys talks (over TLS, as
 * its bearer policy demands) to a local server that answers as Key Vault's REST API does
 * (the 401 bearer challenge, GET /keys/<name>/<version>, POST …/wrapkey and …/unwrapkey with
 * `{ alg, value }` base64url, errors as `{ error: { code, message } }`), with a real RSA key
 * pair, and checks what the SDK sent. No network, no Azure account: this proves the requests
 * and the handling of the answers, not Key Vault itself.
 */
import { inspect } from 'node:util';
import {
  constants,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { BulwarkCryptoError, ErrorCodes, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { AzureKeyVaultKeyProvider } from '../../src/azure';
import { codeOf, errorOf } from '../support/codes';
import { startHttpStub, type HttpStub, type StubRequest, type StubResponse } from '../support/http-stub';
import { selfSignedCertificate } from '../support/self-signed';

const VERSION = '8a2c1f0e9b7d4c3aa1b2c3d4e5f60718';
const CHALLENGE =
  'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"';
const kvError = (status: number, code: string, message = `stub ${code}`): StubResponse => ({
  status,
  body: { error: { code, message } },
});

/** A fake Key Vault holding one RSA-2048 key (version VERSION) named bulwark-master. */
function fakeVault(
  privateKey: KeyObject,
  publicKey: KeyObject,
  base: () => string,
  options: { allowGet: boolean; unwrapWithoutValue?: boolean },
) {
  const jwk = publicKey.export({ format: 'jwk' });
  const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
  return (req: StubRequest): StubResponse => {
    if (req.headers.authorization === undefined) {
      return {
        status: 401,
        headers: { 'www-authenticate': CHALLENGE },
        body: { error: { code: 'Unauthorized', message: 'AKV10000' } },
      };
    }
    if (req.headers.authorization !== 'Bearer eyJ0.stub-access-token') return kvError(401, 'Unauthorized');
    const path = req.path.split('?')[0]!;
    const kid = `${base()}/keys/bulwark-master/${VERSION}`;
    if (req.method === 'GET' && /^\/keys\/bulwark-master\/?(8a2c1f0e9b7d4c3aa1b2c3d4e5f60718)?$/.test(path)) {
      if (!options.allowGet) return kvError(403, 'Forbidden', 'The user does not have keys get permission');
      return {
        status: 200,
        body: {
          key: { kid, kty: 'RSA', key_ops: ['wrapKey', 'unwrapKey'], n: jwk.n, e: jwk.e },
          attributes: {
            enabled: true,
            created: 1700000000,
            updated: 1700000000,
            recoveryLevel: 'Recoverable',
          },
        },
      };
    }
    if (
      req.method === 'POST' &&
      /^\/keys\/bulwark-master\/(8a2c1f0e9b7d4c3aa1b2c3d4e5f60718)?\/wrapkey$/.test(path)
    ) {
      const value = publicEncrypt({ key: publicKey, ...oaep }, Buffer.from(req.json.value, 'base64url'));
      return { status: 200, body: { kid, value: value.toString('base64url') } };
    }
    if (req.method === 'POST' && path === `/keys/bulwark-master/${VERSION}/unwrapkey`) {
      try {
        const value = privateDecrypt({ key: privateKey, ...oaep }, Buffer.from(req.json.value, 'base64url'));
        if (options.unwrapWithoutValue) return { status: 200, body: { kid } };
        return { status: 200, body: { kid, value: value.toString('base64url') } };
      } catch {
        return kvError(400, 'BadParameter', 'The parameter is incorrect.');
      }
    }
    return kvError(404, 'KeyNotFound');
  };
}

describe('AzureKeyVaultKeyProvider (@azure/keyvault-keys against a local Key Vault stand-in)', () => {
  const tls = selfSignedCertificate();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let stub: HttpStub;
  let scopes: string[][];
  const credential: TokenCredential = {
    getToken: async (scope): Promise<AccessToken> => {
      scopes.push([scope].flat());
      return { token: 'eyJ0.stub-access-token', expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
  const provider = (extra: { keyId?: string; maxRetries?: number; timeoutMs?: number } = {}) =>
    new AzureKeyVaultKeyProvider({
      keyId: extra.keyId ?? `${stub.url}/keys/bulwark-master/${VERSION}`,
      credential,
      timeoutMs: extra.timeoutMs,
      clientOptions: {
        tlsOptions: { ca: tls.cert },
        disableChallengeResourceVerification: true, // the stand-in is 127.0.0.1, not *.vault.azure.net
        retryOptions: { maxRetries: extra.maxRetries ?? 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
      },
    });
  const start = async (allowGet: boolean, unwrapWithoutValue = false) => {
    stub = await startHttpStub(
      fakeVault(privateKey, publicKey, () => stub.url, { allowGet, unwrapWithoutValue }),
      tls,
    );
  };

  beforeEach(() => {
    scopes = [];
  });
  afterEach(() => stub?.close());

  it('wraps remotely (keys/get denied) and unwraps with the version that wrapped, after the bearer challenge', async () => {
    await start(false);
    const p = provider();
    const dataKey = randomBytes(32);
    const wrapped = await p.wrapKey(dataKey, { keyId: 'pii', version: 1 });
    expect(wrapped).toMatch(new RegExp(`^azkv1\\.${VERSION}\\.RSA-OAEP-256\\.[A-Za-z0-9_-]{342}$`));
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 1 })).equals(dataKey)).toBe(true);
    expect(await p.masterKeyId()).toBe(`azure:127_0_0_1-${new URL(stub.url).port}/bulwark-master`);

    expect(scopes[0]).toEqual(['https://vault.azure.net/.default']); // from the challenge
    const wrap = stub.requests.find((r) => r.path.startsWith(`/keys/bulwark-master/${VERSION}/wrapkey`))!;
    expect(wrap.method).toBe('POST');
    expect(decodeURIComponent(wrap.path)).toMatch(/\?api-version=\d{4}-\d\d-\d\d/);
    expect(wrap.headers.authorization).toBe('Bearer eyJ0.stub-access-token');
    expect(wrap.json.alg).toBe('RSA-OAEP-256');
    // What Key Vault wraps: the data key and the SHA-256 of the context, 64 bytes.
    expect(Buffer.from(wrap.json.value, 'base64url').subarray(0, 32).equals(dataKey)).toBe(true);
    expect(Buffer.from(wrap.json.value, 'base64url')).toHaveLength(64);
    const unwrap = stub.requests.find((r) => r.path.includes('/unwrapkey'))!;
    expect(unwrap.path.split('?')[0]).toBe(`/keys/bulwark-master/${VERSION}/unwrapkey`);
    expect(unwrap.json.alg).toBe('RSA-OAEP-256');
  });

  it('with a versionless key id, reads the current version once (keys/get) and records it in every wrapped key', async () => {
    await start(true);
    const p = provider({ keyId: `${stub.url}/keys/bulwark-master` });
    const dataKey = randomBytes(32);
    const wrapped = await p.wrapKey(dataKey, { keyId: 'pii', version: 1 });
    expect(wrapped.split('.')[1]).toBe(VERSION);
    await p.wrapKey(dataKey, { keyId: 'pii', version: 2 });
    const gets = stub.requests.filter(
      (r) => r.method === 'GET' && r.path.startsWith('/keys/bulwark-master/?'),
    );
    expect(gets.filter((r) => r.headers.authorization !== undefined)).toHaveLength(1); // the other one met the challenge
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 1 })).equals(dataKey)).toBe(true);
    expect(stub.requests.some((r) => r.path.includes(`/${VERSION}/unwrapkey`))).toBe(true);
  });

  it('asks for a versioned key id when keys/get is denied and none is given', async () => {
    await start(false);
    const error = await errorOf(
      provider({ keyId: `${stub.url}/keys/bulwark-master` }).wrapKey(randomBytes(32), {
        keyId: 'pii',
        version: 1,
      }),
    );
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(error.message).toContain('give a versioned keyId');
  });

  it('does not unwrap a wrapped key moved to another key id or version (the bound digest differs)', async () => {
    await start(false);
    const p = provider();
    const wrapped = await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    const moved = await errorOf(p.unwrapKey(wrapped, { keyId: 'other', version: 1 }));
    expect(moved.code).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'pii', version: 2 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    const parts = wrapped.split('.');
    const tampered = Buffer.from(parts[3]!, 'base64url');
    tampered[9]! ^= 1;
    expect(
      await codeOf(
        p.unwrapKey(`${parts.slice(0, 3).join('.')}.${tampered.toString('base64url')}`, {
          keyId: 'pii',
          version: 1,
        }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    expect(
      await codeOf(p.unwrapKey(`azkv1.${VERSION}.RSA1_5.${parts[3]}`, { keyId: 'pii', version: 1 })),
    ).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED); // an algorithm off the allow-list
  });

  it('an unwrap answer without a value is a typed error, not a TypeError', async () => {
    await start(false, true);
    const p = provider();
    const wrapped = await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    const error = await errorOf(p.unwrapKey(wrapped, { keyId: 'pii', version: 1 }));
    expect(error).toBeInstanceOf(BulwarkCryptoError);
    expect(error.code).toBe(ErrorCodes.CRYPTO_KEY_PROVIDER);
  });

  it('backs a KeyRing', async () => {
    await start(true);
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    await ring.close();
    const again = await KeyRing.open({ provider: provider(), store });
    expect(again.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    await again.close();
  });

  it('retries 429 and 503 with the pipeline retry policy, then succeeds; gives up with ERR_CRYPTO_KMS_UNAVAILABLE', async () => {
    await start(false);
    const p = provider({ maxRetries: 2 });
    const vault = fakeVault(privateKey, publicKey, () => stub.url, { allowGet: false });
    let failures = 0;
    stub.handle((req) => {
      if (req.path.includes('/wrapkey') && req.headers.authorization !== undefined && failures < 2) {
        failures++;
        return failures === 1
          ? { ...kvError(429, 'Throttled'), headers: { 'retry-after': '0' } }
          : kvError(503, 'ServiceUnavailable');
      }
      return vault(req);
    });
    await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(failures).toBe(2);

    stub.handle((req) =>
      req.headers.authorization === undefined ? vault(req) : kvError(500, 'InternalError'),
    );
    const error = await errorOf(
      provider({ maxRetries: 1 }).wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }),
    );
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
  });

  it('times out a call that gets no answer', async () => {
    await start(false);
    const vault = fakeVault(privateKey, publicKey, () => stub.url, { allowGet: false });
    stub.handle((req) =>
      req.headers.authorization === undefined ? vault(req) : { status: 200, hang: true },
    );
    expect(
      await codeOf(
        provider({ timeoutMs: 300, maxRetries: 0 }).wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
  });

  it('maps refusals to typed errors without the token', async () => {
    await start(false);
    const vault = fakeVault(privateKey, publicKey, () => stub.url, { allowGet: false });
    stub.handle((req) =>
      req.headers.authorization === undefined || req.method === 'GET'
        ? vault(req)
        : kvError(403, 'Forbidden', 'Caller is not authorized'),
    );
    const denied = await errorOf(provider().wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }));
    expect(denied.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(`${denied.message}${JSON.stringify(denied.details)}`).not.toContain('stub-access-token');
    // Nor in the cause (the SDK's RestError holds the request and its Authorization header).
    expect(inspect(denied, { depth: 20 })).not.toContain('stub-access-token');
    stub.handle((req) =>
      req.headers.authorization === undefined || req.method === 'GET'
        ? vault(req)
        : kvError(403, 'Forbidden', 'Operation wrapKey is not allowed on a disabled key.'),
    );
    expect(await codeOf(provider().wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
    );
  });

  it('validates options', () => {
    const credential2 = credential;
    expect(
      () =>
        new AzureKeyVaultKeyProvider({ keyId: 'http://v.vault.azure.net/keys/k', credential: credential2 }),
    ).toThrow(/keyId/);
    expect(
      () =>
        new AzureKeyVaultKeyProvider({
          keyId: 'https://v.vault.azure.net/secrets/k',
          credential: credential2,
        }),
    ).toThrow(/keyId/);
    expect(
      () =>
        new AzureKeyVaultKeyProvider({ keyId: 'https://v.vault.azure.net/keys/k', credential: {} as never }),
    ).toThrow(/credential/);
    expect(
      () =>
        new AzureKeyVaultKeyProvider({
          keyId: 'https://v.vault.azure.net/keys/k',
          credential: credential2,
          algorithm: 'RSA1_5' as never,
        }),
    ).toThrow(/algorithm/);
  });
});
