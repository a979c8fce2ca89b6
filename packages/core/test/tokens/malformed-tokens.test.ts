import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as jose from 'jose';
import { BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { generateSigningKey, type GeneratedSigningKey } from '../../src/tokens/generate-signing-key';
import { TokenService } from '../../src/tokens/token-service';
import { assertNoLeak, b64url, expectTokenError } from './helpers';

let ed: GeneratedSigningKey;
let services: TokenService[];

beforeAll(async () => {
  ed = await generateSigningKey('EdDSA');
  services = [
    new TokenService({ algorithms: ['EdDSA'], signingKey: { key: ed.privateKey } }),
    new TokenService({ algorithms: ['EdDSA'], verification: { jwks: { keys: [ed.publicJwk] } } }),
    new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(32) } }),
  ];
});

/** Verifies with every service; only BulwarkTokenError may escape, and never with the token in it. */
async function onlyTokenErrors(token: unknown): Promise<void> {
  for (const tokens of services) {
    let error: unknown;
    try {
      await tokens.verify(token as string);
    } catch (e) {
      error = e;
    }
    // Random input must never verify.
    expect(error).toBeInstanceOf(BulwarkTokenError);
    if (typeof token === 'string') assertNoLeak(error as BulwarkTokenError, token);
  }
}

describe('TokenService.verify on malformed input', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { token: 'x' }],
    ['a Buffer', Buffer.from('a.b.c')],
    ['an empty string', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['a JWE (five segments)', 'a.b.c.d.e'],
    ['non-base64url characters', 'ab$c.def.ghi'],
    ['padding characters', `${b64url({ alg: 'EdDSA' })}=.e30.c2ln`],
    ['a header that is not JSON', `${b64url('not json')}.e30.c2ln`],
    ['a header that is a JSON array', `${b64url([1, 2])}.e30.c2ln`],
    ['a header that is a JSON string', `${b64url('"EdDSA"')}.e30.c2ln`],
    ['a header without alg', `${b64url({ typ: 'JWT' })}.e30.c2ln`],
    ['a header with a numeric alg', `${b64url({ alg: 256 })}.e30.c2ln`],
    ['an empty signature', `${b64url({ alg: 'EdDSA' })}.e30.`],
    ['an empty payload', `${b64url({ alg: 'EdDSA' })}..c2ln`],
    ['whitespace around', ` ${b64url({ alg: 'EdDSA' })}.e30.c2ln `],
  ])('%s is TOKEN_MALFORMED', async (_name, input) => {
    for (const tokens of services.slice(0, 2)) {
      await expectTokenError(tokens.verify(input as string), ErrorCodes.TOKEN_MALFORMED, input);
    }
  });

  it('a payload that is not a JSON object is rejected (the signature is checked before the payload is parsed)', async () => {
    const tokens = services[0];
    for (const payload of ['bm90IGpzb24', b64url([1]), b64url('"s"'), b64url('null')]) {
      const token = `${b64url({ alg: 'EdDSA' })}.${payload}.${'A'.repeat(86)}`;
      await expectTokenError(tokens.verify(token), ErrorCodes.TOKEN_SIGNATURE_INVALID, token);
    }
  });

  it('a correctly signed JWS whose payload is not a JSON object is TOKEN_MALFORMED', async () => {
    for (const payload of ['not json', '[1,2]', '"a string"', 'null']) {
      const token = await new jose.CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: 'EdDSA' })
        .sign(ed.privateKey);
      await expectTokenError(services[0].verify(token), ErrorCodes.TOKEN_MALFORMED, token);
    }
  });

  it('oversized tokens are refused before parsing, without echoing them', async () => {
    const huge = `${b64url({ alg: 'EdDSA' })}.${'A'.repeat(9000)}.${'B'.repeat(86)}`;
    const err = await expectTokenError(services[0].verify(huge), ErrorCodes.TOKEN_MALFORMED, huge);
    expect(err.message).toMatch(/longer than 8192/);
    const strict = new TokenService({
      algorithms: ['EdDSA'],
      signingKey: { key: ed.privateKey },
      maxTokenLength: 200,
    });
    const normal = await strict.sign({}, { subject: 'u' });
    expect(normal.length).toBeGreaterThan(200);
    await expectTokenError(strict.verify(normal), ErrorCodes.TOKEN_MALFORMED, normal);
  });

  it('an unrecognised alg is reported without echoing attacker-controlled text', async () => {
    const weird = 'x'.repeat(100) + '<script>';
    const token = `${b64url({ alg: weird })}.e30.c2ln`;
    const err = await expectTokenError(
      services[0].verify(token),
      ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
      token,
    );
    expect(err.details).toEqual({ alg: 'unrecognised' });
    expect(err.message).not.toContain('<script>');
  });

  it('property: arbitrary strings only ever produce BulwarkTokenError', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 300 }), onlyTokenErrors), { numRuns: 200 });
  });

  it('property: random three-part base64url strings only ever produce BulwarkTokenError', async () => {
    const segment = fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('base64url'));
    await fc.assert(
      fc.asyncProperty(segment, segment, segment, async (h, p, s) => onlyTokenErrors(`${h}.${p}.${s}`)),
      { numRuns: 200 },
    );
  });

  it('property: well-formed headers with an allowed alg and random payload/signature never verify', async () => {
    const header = fc
      .record({
        alg: fc.constantFrom('EdDSA', 'HS256', 'none', 'ES256'),
        kid: fc.option(fc.string({ maxLength: 20 })),
      })
      .map((h) => b64url(h));
    const json = fc.jsonValue().map((v) => b64url(v));
    const sig = fc
      .uint8Array({ minLength: 1, maxLength: 80 })
      .map((b) => Buffer.from(b).toString('base64url'));
    await fc.assert(
      fc.asyncProperty(header, json, sig, async (h, p, s) => onlyTokenErrors(`${h}.${p}.${s}`)),
      { numRuns: 150 },
    );
  });
});
