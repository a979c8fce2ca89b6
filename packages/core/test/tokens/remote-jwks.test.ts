import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { generateSigningKey, type GeneratedSigningKey } from '../../src/tokens/generate-signing-key';
import { TokenService, type RemoteJwksVerification } from '../../src/tokens/token-service';
import { expectTokenError } from './helpers';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 with an ephemeral port; the handler can be swapped per test. */
let server: Server;
let baseUrl: string;
let handler: Handler;
let requests: Array<{ url?: string; headers: IncomingMessage['headers'] }>;
const hanging = new Set<ServerResponse>();

let current: GeneratedSigningKey;
let next: GeneratedSigningKey;
let published: GeneratedSigningKey[];

beforeAll(async () => {
  [current, next] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('ES256')]);
  server = createServer((req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  requests = [];
  published = [current];
  handler = (req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
  };
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function verifier(overrides: Partial<RemoteJwksVerification> = {}): TokenService {
  return new TokenService({
    algorithms: ['EdDSA', 'ES256'],
    issuer: 'https://issuer.test',
    verification: { jwksUrl: `${baseUrl}/.well-known/jwks.json`, allowInsecureJwksUrl: true, ...overrides },
  });
}

function signer(key: GeneratedSigningKey): TokenService {
  return new TokenService({
    algorithms: [key.alg],
    issuer: 'https://issuer.test',
    signingKey: { key: key.privateKey, kid: key.kid },
  });
}

describe('TokenService with a remote JWKS (real local HTTP server)', () => {
  it('fetches the JWKS, verifies, and caches it between verifications', async () => {
    const tokens = verifier({ headers: { 'x-api-key': 'k1' } });
    const token = await signer(current).sign({}, { subject: 'u' });
    await expect(tokens.verify(token)).resolves.toMatchObject({ payload: { sub: 'u' } });
    await expect(tokens.verify(token)).resolves.toBeDefined();
    expect(requests).toHaveLength(1);
    expect(requests[0].headers['x-api-key']).toBe('k1');
  });

  it('picks up a newly published key (rotation) after the cooldown; an unknown kid is KEY_NOT_FOUND', async () => {
    const tokens = verifier({ cooldownMs: 0 });
    await tokens.verify(await signer(current).sign({}, { subject: 'u' }));
    const rotated = await signer(next).sign({}, { subject: 'u' });
    // Not yet published: refetched once, still unknown.
    const err = await expectTokenError(tokens.verify(rotated), ErrorCodes.TOKEN_KEY_NOT_FOUND, rotated);
    expect(err.details).toEqual({ kid: next.kid, alg: 'ES256' });
    published = [current, next];
    await expect(tokens.verify(rotated)).resolves.toBeDefined();
  });

  it('a tampered token fetched against the remote JWKS still fails the signature check', async () => {
    const token = await signer(current).sign({ role: 'user' }, { subject: 'u' });
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', iss: 'https://issuer.test', iat: 1, exp: 4e9 })).toString('base64url')}.${s}`;
    await expectTokenError(verifier().verify(forged), ErrorCodes.TOKEN_SIGNATURE_INVALID, forged);
  });

  it('an unreachable JWKS is JWKS_UNAVAILABLE', async () => {
    // A port that was just free: bind, note the port, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const tokens = new TokenService({
      algorithms: ['EdDSA'],
      verification: { jwksUrl: `http://127.0.0.1:${deadPort}/jwks.json`, allowInsecureJwksUrl: true },
    });
    const token = await signer(current).sign({}, { subject: 'u' });
    const err = await expectTokenError(tokens.verify(token), ErrorCodes.TOKEN_JWKS_UNAVAILABLE, token);
    expect(err.details).toEqual({ jwksUrl: `http://127.0.0.1:${deadPort}/jwks.json` });
  });

  it.each<[string, Handler]>([
    ['a 500 response', (_req, res) => res.writeHead(500).end('boom')],
    [
      'a redirect (not followed)',
      (_req, res) => res.writeHead(302, { location: 'https://evil.test/jwks' }).end(),
    ],
    ['invalid JSON', (_req, res) => res.writeHead(200).end('{not json')],
    ['JSON that is not a JWKS', (_req, res) => res.writeHead(200).end(JSON.stringify({ keys: 'nope' }))],
  ])('%s from the JWKS endpoint is JWKS_UNAVAILABLE', async (_name, h) => {
    handler = h;
    const token = await signer(current).sign({}, { subject: 'u' });
    await expectTokenError(verifier().verify(token), ErrorCodes.TOKEN_JWKS_UNAVAILABLE, token);
  });

  it('a JWKS endpoint that never answers times out as JWKS_UNAVAILABLE', async () => {
    handler = (_req, res) => {
      hanging.add(res); // never respond
    };
    const token = await signer(current).sign({}, { subject: 'u' });
    await expectTokenError(
      verifier({ timeoutMs: 200 }).verify(token),
      ErrorCodes.TOKEN_JWKS_UNAVAILABLE,
      token,
    );
  });

  it('refuses http URLs unless allowInsecureJwksUrl is set, and other schemes and embedded credentials always', () => {
    const build = (jwksUrl: string, allowInsecureJwksUrl?: boolean) => () =>
      new TokenService({ algorithms: ['EdDSA'], verification: { jwksUrl, allowInsecureJwksUrl } });
    for (const [url, allow, pattern] of [
      [`${baseUrl}/jwks.json`, undefined, /must use https .*allowInsecureJwksUrl/],
      [`${baseUrl}/jwks.json`, false, /must use https/],
      ['file:///etc/passwd', true, /must use https, got file:/],
      ['ftp://example.test/jwks', true, /must use https/],
      ['https://user:pass@example.test/jwks', undefined, /must not embed credentials/],
      ['not a url', undefined, /absolute URL/],
    ] as const) {
      let error: unknown;
      try {
        build(url, allow)();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as BulwarkConfigError).details).toEqual({ path: 'tokens.verification.jwksUrl' });
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toContain('pass@');
    }
    expect(() => build('https://issuer.example.test/.well-known/jwks.json')()).not.toThrow();
    expect(() => verifier({ timeoutMs: -1 })).toThrow(/tokens\.verification\.timeoutMs/);
  });
});
