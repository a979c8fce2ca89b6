/**
 * GcpKmsKeyProvider at the SDK's HTTP boundary: @google-cloud/kms on its REST transport
 * (fallback) talks to a local server that answers as Cloud KMS's REST API does
 * (POST /v1/{name}:encrypt|decrypt, JSON bodies with base64 bytes and CRC32C as int64 strings,
 * errors as `{ error: { code, message, status } }`), and checks what the SDK sent. No network,
 * no Google account: this proves the requests and the handling of the answers, not Cloud KMS.
 */
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { OAuth2Client } from 'google-auth-library';
import { GcpKmsKeyProvider } from '../../src/gcp';
import { crc32c } from '../../src/lib/crc32c';
import { codeOf, errorOf } from '../support/codes';
import { startHttpStub, type HttpStub, type StubRequest, type StubResponse } from '../support/http-stub';

const KEY = 'projects/acme-prod/locations/europe-west1/keyRings/bulwark/cryptoKeys/master';
const crcOf = (b64: string) => String(crc32c(Buffer.from(b64, 'base64')));
const gcpError = (http: number, status: string): StubResponse => ({
  status: http,
  body: { error: { code: http, message: `stub ${status}`, status } },
});

/** A fake Cloud KMS: encrypt keeps (plaintext, aad) under a random ciphertext; decrypt checks the AAD. */
function fakeKms() {
  const sealed = new Map<string, { plaintext: string; aad: string }>();
  return (req: StubRequest): StubResponse => {
    const path = req.path.split('?')[0];
    if (path === `/v1/${KEY}:encrypt`) {
      const { plaintext, additionalAuthenticatedData: aad } = req.json;
      const ciphertext = randomBytes(70).toString('base64');
      sealed.set(ciphertext, { plaintext, aad });
      return {
        status: 200,
        body: {
          name: `${KEY}/cryptoKeyVersions/4`,
          ciphertext,
          ciphertextCrc32c: crcOf(ciphertext),
          verifiedPlaintextCrc32c: req.json.plaintextCrc32c === crcOf(plaintext),
          verifiedAdditionalAuthenticatedDataCrc32c:
            req.json.additionalAuthenticatedDataCrc32c === crcOf(aad),
          protectionLevel: 'HSM',
        },
      };
    }
    if (path === `/v1/${KEY}:decrypt`) {
      const entry = sealed.get(req.json.ciphertext);
      if (entry === undefined || entry.aad !== req.json.additionalAuthenticatedData) {
        return gcpError(400, 'INVALID_ARGUMENT');
      }
      return {
        status: 200,
        body: { plaintext: entry.plaintext, plaintextCrc32c: crcOf(entry.plaintext), usedPrimary: true },
      };
    }
    return gcpError(404, 'NOT_FOUND');
  };
}

describe('GcpKmsKeyProvider (@google-cloud/kms REST transport against a local Cloud KMS stand-in)', () => {
  let stub: HttpStub;
  const providers: GcpKmsKeyProvider[] = [];
  const provider = (extra: { timeoutMs?: number; maxAttempts?: number } = {}) => {
    // Node's own fetch: gaxios would import('node-fetch') dynamically, which jest's VM refuses.
    const authClient = new OAuth2Client({ transporterOptions: { fetchImplementation: fetch } });
    authClient.setCredentials({ access_token: 'ya29.stub-token', expiry_date: Date.now() + 3600_000 });
    const url = new URL(stub.url);
    const p = new GcpKmsKeyProvider({
      keyName: KEY,
      clientOptions: { apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', authClient },
      ...extra,
    });
    providers.push(p);
    return p;
  };

  beforeEach(async () => {
    stub = await startHttpStub(fakeKms());
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
    await stub.close();
  });

  it('wraps with encrypt and unwraps with decrypt: the context as AAD, CRC32C checks, a bearer token', async () => {
    const p = provider();
    const dataKey = randomBytes(32);
    expect(await p.masterKeyId()).toBe(`gcp:${KEY}`);
    const wrapped = await p.wrapKey(dataKey, { keyId: '$subject:customer-4711', version: 1 });
    expect(wrapped).toMatch(/^gcpkms1\.[A-Za-z0-9_-]+$/);
    expect(
      (await p.unwrapKey(wrapped, { keyId: '$subject:customer-4711', version: 1 })).equals(dataKey),
    ).toBe(true);

    const [encrypt, decrypt] = stub.requests;
    expect(encrypt!.method).toBe('POST');
    expect(encrypt!.path.split('?')[0]).toBe(`/v1/${KEY}:encrypt`);
    expect(encrypt!.headers.authorization).toBe('Bearer ya29.stub-token');
    expect(encrypt!.json).toEqual({
      plaintext: dataKey.toString('base64'),
      additionalAuthenticatedData: Buffer.from('bulwark/key-wrap/v1["$subject:customer-4711",1]').toString(
        'base64',
      ),
      plaintextCrc32c: String(crc32c(dataKey)),
      additionalAuthenticatedDataCrc32c: expect.stringMatching(/^\d+$/),
    });
    expect(decrypt!.path.split('?')[0]).toBe(`/v1/${KEY}:decrypt`);
    expect(decrypt!.json.additionalAuthenticatedData).toBe(encrypt!.json.additionalAuthenticatedData);
    expect(decrypt!.json.ciphertextCrc32c).toMatch(/^\d+$/);
  });

  it('does not unwrap a wrapped key moved to another key id (Cloud KMS refuses the other AAD)', async () => {
    const p = provider();
    const wrapped = await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'other', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    expect(await codeOf(p.unwrapKey('vt1.1.AAAA', { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it('refuses an answer that fails the CRC32C integrity check (corrupted in transit)', async () => {
    const p = provider();
    const kms = fakeKms();
    stub.handle((req) => {
      const answer = kms(req);
      return { ...answer, body: { ...(answer.body as object), ciphertextCrc32c: '12345' } };
    });
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
    );
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

  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED with the SDK retry settings, then succeeds', async () => {
    const p = provider();
    const kms = fakeKms();
    let failures = 0;
    stub.handle((req) => {
      if (failures < 2) {
        failures++;
        return failures === 1 ? gcpError(503, 'UNAVAILABLE') : gcpError(429, 'RESOURCE_EXHAUSTED');
      }
      return kms(req);
    });
    await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(stub.requests).toHaveLength(3);
  });

  it('answers ERR_CRYPTO_KMS_UNAVAILABLE after maxAttempts, and when the deadline passes', async () => {
    const p = provider({ maxAttempts: 2 });
    stub.handle(() => gcpError(503, 'UNAVAILABLE'));
    const error = await errorOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
    expect(stub.requests).toHaveLength(2);

    const slow = provider({ timeoutMs: 200, maxAttempts: 1 });
    stub.handle(() => ({ status: 200, hang: true }));
    expect(await codeOf(slow.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
    );
  });

  it('maps refusals to typed errors without retrying them', async () => {
    const p = provider();
    stub.handle(() => gcpError(403, 'PERMISSION_DENIED'));
    const denied = await errorOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }));
    expect(denied.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(denied.message).toContain('PERMISSION_DENIED');
    expect(denied.message).not.toContain('ya29');
    expect(inspect(denied, { depth: 20 })).not.toContain('ya29'); // gaxios errors carry the request config
    expect(stub.requests).toHaveLength(1);
    stub.handle(() => gcpError(400, 'FAILED_PRECONDITION'));
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
    );
  });

  it('validates options and refuses calls after close()', async () => {
    expect(() => new GcpKmsKeyProvider({ keyName: 'projects/x' })).toThrow(/keyName/);
    // A valid Cloud KMS name whose master key id (`gcp:<name>`) would pass core's 200-character cap.
    const long = `projects/${'p'.repeat(63)}/locations/${'l'.repeat(63)}/keyRings/${'r'.repeat(40)}/cryptoKeys/k`;
    expect(long.length).toBeGreaterThan(196);
    expect(() => new GcpKmsKeyProvider({ keyName: long })).toThrow(/keyName/);
    const longest = long.replace('r'.repeat(40), 'r'.repeat(40 - (long.length - 196)));
    expect(longest).toHaveLength(196);
    expect(await new GcpKmsKeyProvider({ keyName: longest }).masterKeyId()).toHaveLength(200);
    const p = provider();
    await p.close();
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_CLOSED,
    );
  });
});
