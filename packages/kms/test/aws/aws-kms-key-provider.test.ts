/**
 * AwsKmsKeyProvider at the AWS SDK's HTTP boundary: a local server answers as AWS KMS does (JSON
 * 1.1 protocol: POST /, X-Amz-Target TrentService.<Operation>, shapes from the KMS API
 * reference), and checks what the SDK sent. No network, no AWS account: this proves the requests
 * and the handling of KMS's answers, not KMS itself.
 */
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { problemFor } from '@bulwark/core/http';
import { AwsKmsKeyProvider } from '../../src/aws';
import { codeOf, errorOf } from '../support/codes';
import { startHttpStub, type HttpStub, type StubRequest, type StubResponse } from '../support/http-stub';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const kmsError = (type: string, status = 400): StubResponse => ({
  status,
  headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
  body: { __type: type, message: `stub ${type}` },
});
const ok = (body: unknown): StubResponse => ({
  status: 200,
  headers: { 'content-type': 'application/x-amz-json-1.1' },
  body,
});

/** A fake KMS: Encrypt keeps (plaintext, context) under a random blob; Decrypt checks the context. */
function fakeKms() {
  const sealed = new Map<string, { plaintext: string; context: string }>();
  return (req: StubRequest): StubResponse => {
    const op = String(req.headers['x-amz-target']).replace('TrentService.', '');
    if (op === 'DescribeKey') {
      return ok({
        KeyMetadata: {
          Arn: ARN,
          KeyId: ARN.split('/')[1],
          KeyState: 'Enabled',
          KeyUsage: 'ENCRYPT_DECRYPT',
          Enabled: true,
        },
      });
    }
    if (op === 'Encrypt') {
      const blob = randomBytes(48).toString('base64');
      sealed.set(blob, {
        plaintext: req.json.Plaintext,
        context: JSON.stringify(req.json.EncryptionContext),
      });
      return ok({ CiphertextBlob: blob, KeyId: ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    }
    if (op === 'Decrypt') {
      const entry = sealed.get(req.json.CiphertextBlob);
      if (entry === undefined || entry.context !== JSON.stringify(req.json.EncryptionContext)) {
        return kmsError('InvalidCiphertextException');
      }
      return ok({ Plaintext: entry.plaintext, KeyId: ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    }
    return kmsError('UnsupportedOperationException');
  };
}

describe('AwsKmsKeyProvider (AWS SDK v3 against a local KMS stand-in)', () => {
  let stub: HttpStub;
  const providers: AwsKmsKeyProvider[] = [];
  const provider = (config: { maxAttempts?: number; requestTimeout?: number } = {}) => {
    const p = new AwsKmsKeyProvider({
      keyId: 'alias/bulwark-master',
      clientConfig: {
        region: 'eu-west-1',
        endpoint: stub.url,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'stub-secret' },
        ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts }),
        ...(config.requestTimeout === undefined
          ? {}
          : { requestHandler: { requestTimeout: config.requestTimeout } }),
      },
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

  it('wraps with Encrypt and unwraps with Decrypt, signed, with the encryption context and the resolved key ARN', async () => {
    const p = provider();
    const dataKey = randomBytes(32);
    expect(await p.masterKeyId()).toBe(`aws:${ARN}`);
    const wrapped = await p.wrapKey(dataKey, { keyId: 'pii', version: 3 });
    expect(wrapped).toMatch(/^awskms1\.[A-Za-z0-9_-]{64}$/);
    expect((await p.unwrapKey(wrapped, { keyId: 'pii', version: 3 })).equals(dataKey)).toBe(true);

    const [describe, encrypt, decrypt] = stub.requests;
    expect(describe!.headers['x-amz-target']).toBe('TrentService.DescribeKey');
    expect(describe!.json).toEqual({ KeyId: 'alias/bulwark-master' });
    for (const req of stub.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/');
      expect(req.headers['content-type']).toBe('application/x-amz-json-1.1');
      expect(req.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/kms\/aws4_request/,
      );
    }
    expect(encrypt!.headers['x-amz-target']).toBe('TrentService.Encrypt');
    expect(encrypt!.json).toEqual({
      KeyId: ARN, // the alias was resolved once; a repointed alias cannot change the key
      Plaintext: dataKey.toString('base64'),
      EncryptionContext: { 'bulwark:key': 'pii', 'bulwark:version': '3' },
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(decrypt!.headers['x-amz-target']).toBe('TrentService.Decrypt');
    expect(decrypt!.json).toMatchObject({
      KeyId: ARN,
      EncryptionContext: { 'bulwark:key': 'pii', 'bulwark:version': '3' },
    });
  });

  it('sends only a hash of a data subject reference (KMS logs the encryption context in CloudTrail)', async () => {
    const p = provider();
    await p.wrapKey(randomBytes(32), { keyId: '$subject:customer-4711', version: 1 });
    const encrypt = stub.requests.find((r) => r.headers['x-amz-target'] === 'TrentService.Encrypt')!;
    expect(encrypt.body).not.toContain('customer-4711');
    expect(encrypt.json.EncryptionContext).toEqual({
      'bulwark:key': '$subject',
      'bulwark:version': '1',
      'bulwark:subject-sha256': expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
  });

  it('does not unwrap a wrapped key moved to another key id (KMS refuses the other context)', async () => {
    const p = provider();
    const wrapped = await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(await codeOf(p.unwrapKey(wrapped, { keyId: 'other', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    expect(await codeOf(p.unwrapKey('p11g1.AAAA.BBBB', { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it('backs a KeyRing: keys created, values encrypted, the ring reopened and values decrypted', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: provider(), store });
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    await ring.close();
    const again = await KeyRing.open({ provider: provider(), store });
    expect(again.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    await again.close();
  });

  it('keeps an open ring working through a KMS outage; what needs KMS fails with a retryable 503', async () => {
    const ring = await KeyRing.open({ provider: provider({ maxAttempts: 1 }), store: new MemoryKeyStore() });
    await ring.createKey('pii');
    stub.handle(() => kmsError('KMSInternalException', 500));
    // Data keys are cached: values still encrypt and decrypt.
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    expect(ring.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    // A new key needs a wrap by KMS.
    const error = await errorOf(ring.createKey('phi'));
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
    const problem = problemFor(error, { requestId: 'r-1' });
    expect(problem.status).toBe(503);
    expect(JSON.stringify(problem.body)).not.toMatch(/kms|arn:|phi/i); // the answer names nothing
    await ring.close();
  });

  it('retries throttling and 5xx with the SDK retry strategy, then succeeds', async () => {
    const p = provider();
    await p.masterKeyId();
    const kms = fakeKms();
    let failures = 0;
    stub.handle((req) => {
      if (req.headers['x-amz-target'] === 'TrentService.Encrypt' && failures < 2) {
        failures++;
        return failures === 1 ? kmsError('ThrottlingException') : kmsError('KMSInternalException', 500);
      }
      return kms(req);
    });
    await p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 });
    expect(stub.requests.filter((r) => r.headers['x-amz-target'] === 'TrentService.Encrypt')).toHaveLength(3);
    // The SDK marks retries (amz-sdk-request: attempt=N; max=3).
    expect(stub.requests.at(-1)!.headers['amz-sdk-request']).toBe('attempt=3; max=3');
  });

  it('answers ERR_CRYPTO_KMS_UNAVAILABLE when the service stays down after the configured attempts', async () => {
    const p = provider({ maxAttempts: 2 });
    stub.handle(() => kmsError('KMSInternalException', 500));
    const error = await errorOf(p.masterKeyId());
    expect(error.code).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
    expect(error.message).toContain('KMSInternalException (HTTP 500, 2 attempt(s))');
    expect(stub.requests).toHaveLength(2);
  });

  it('answers ERR_CRYPTO_KMS_UNAVAILABLE when KMS does not answer within the request timeout', async () => {
    const p = provider({ maxAttempts: 1, requestTimeout: 200 });
    stub.handle(() => ({ status: 200, hang: true }));
    expect(await codeOf(p.masterKeyId())).toBe(ErrorCodes.CRYPTO_KMS_UNAVAILABLE);
  });

  it('maps refusals to typed errors without retrying them', async () => {
    const p = provider();
    await p.masterKeyId();
    stub.requests.length = 0;
    stub.handle(() => kmsError('AccessDeniedException'));
    const denied = await errorOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }));
    expect(denied.code).toBe(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED);
    expect(inspect(denied, { depth: 20 })).not.toMatch(/stub-secret|AWS4-HMAC-SHA256/);
    expect(stub.requests).toHaveLength(1);
    stub.handle(() => kmsError('DisabledException'));
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
    );
    stub.handle(() => kmsError('KMSInvalidStateException'));
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
    );
  });

  it('refuses a key that DescribeKey reports disabled or not for encryption', async () => {
    stub.handle(() =>
      ok({ KeyMetadata: { Arn: ARN, KeyState: 'PendingDeletion', KeyUsage: 'ENCRYPT_DECRYPT' } }),
    );
    expect(await codeOf(provider().masterKeyId())).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
    stub.handle(() => ok({ KeyMetadata: { Arn: ARN, KeyState: 'Enabled', KeyUsage: 'SIGN_VERIFY' } }));
    expect(await codeOf(provider().masterKeyId())).toBe(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE);
  });

  it('validates options and refuses calls after close()', async () => {
    expect(() => new AwsKmsKeyProvider({ keyId: '' })).toThrow(/keyId/);
    expect(() => new AwsKmsKeyProvider({ keyId: 'alias/x', client: {} as never })).toThrow(/client/);
    const p = provider();
    await p.close();
    expect(await codeOf(p.wrapKey(randomBytes(32), { keyId: 'pii', version: 1 }))).toBe(
      ErrorCodes.CRYPTO_CLOSED,
    );
  });
});
