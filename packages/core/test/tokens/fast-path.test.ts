import {
  constants as cryptoConstants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import * as fc from 'fast-check';
import * as jose from 'jose';
import { BulwarkTokenError, ErrorCodes } from '../../src/errors';
import type { JwsAlgorithm } from '../../src/tokens/jws-algorithms';
import { plainJwsFastPath } from '../../src/tokens/plain-jws';
import { TokenService, type TokenServiceOptions, type VerifiedToken } from '../../src/tokens/token-service';

/**
 * The synchronous fast path of TokenService.verify() (plain-jws.ts) may only ever accept what jose
 * (the reference, reached with the fast path switched off) accepts, with the same payload and
 * header; every rejection stays jose's, with the same code and message. Tokens come from jose and
 * from node:crypto by hand, so non-canonical but valid encodings (unused base64url bits, JSON
 * whitespace, duplicate keys, a `__proto__` member) are covered as well as tamperings.
 */

const T0 = Date.UTC(2030, 0, 1) / 1000;
const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'api.example.test';

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

interface KeyKind {
  name: string;
  algorithms: JwsAlgorithm[];
  legacy?: TokenServiceOptions['legacyAlgorithms'];
  /** Signs with the private key (or secret) of this kind. */
  signer: KeyObject | Buffer;
  verifyKey: KeyObject | Buffer;
  /** Another key of the same kind: a token signed by it must be refused. */
  otherSigner: KeyObject | Buffer;
}

function pair(type: 'ed25519' | 'ec' | 'rsa', options: Record<string, unknown> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return { privateKey, publicKey };
}

const secret = randomBytes(64);
const ed = pair('ed25519');
const p256 = pair('ec', { namedCurve: 'P-256' });
const p384 = pair('ec', { namedCurve: 'P-384' });
const p521 = pair('ec', { namedCurve: 'P-521' });
const rsa = pair('rsa', { modulusLength: 3072 });

const KINDS: KeyKind[] = [
  {
    name: 'HMAC',
    algorithms: ['HS256', 'HS384', 'HS512'],
    signer: secret,
    verifyKey: secret,
    otherSigner: randomBytes(64),
  },
  {
    name: 'Ed25519',
    algorithms: ['EdDSA'],
    signer: ed.privateKey,
    verifyKey: ed.publicKey,
    otherSigner: pair('ed25519').privateKey,
  },
  {
    name: 'P-256',
    algorithms: ['ES256', 'ES384'],
    signer: p256.privateKey,
    verifyKey: p256.publicKey,
    otherSigner: pair('ec', { namedCurve: 'P-256' }).privateKey,
  },
  {
    name: 'P-384',
    algorithms: ['ES384'],
    signer: p384.privateKey,
    verifyKey: p384.publicKey,
    otherSigner: pair('ec', { namedCurve: 'P-384' }).privateKey,
  },
  {
    name: 'P-521',
    algorithms: ['ES512'],
    signer: p521.privateKey,
    verifyKey: p521.publicKey,
    otherSigner: pair('ec', { namedCurve: 'P-521' }).privateKey,
  },
  {
    name: 'RSA-3072',
    algorithms: ['PS256', 'PS384', 'PS512', 'RS256', 'RS512'],
    legacy: ['RS256', 'RS512'],
    signer: rsa.privateKey,
    verifyKey: rsa.publicKey,
    otherSigner: ed.privateKey, // an unrelated key: node:crypto refuses it for RSA algorithms
  },
];

/** node:crypto signature of `input` for `alg` (any JWS algorithm, with whatever key it is given). */
function handSign(alg: string, input: string, key: KeyObject | Buffer, pssSalt?: number): Buffer {
  const bits = alg.slice(2);
  if (alg.startsWith('HS')) {
    const secretBytes = Buffer.isBuffer(key)
      ? key
      : (key as KeyObject).export({ format: 'pem', type: 'spki' });
    return createHmac(HASH[bits] ?? 'sha256', secretBytes)
      .update(input)
      .digest();
  }
  if (Buffer.isBuffer(key)) return createHmac('sha256', key).update(input).digest();
  const data = Buffer.from(input);
  if (alg === 'EdDSA') return cryptoSign(null, data, key);
  if (alg.startsWith('ES')) return cryptoSign(HASH[bits], data, { key, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS')) {
    return cryptoSign(HASH[bits], data, {
      key,
      padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
      saltLength: pssSalt ?? Number(bits) / 8,
    });
  }
  return cryptoSign(HASH[bits] ?? 'sha256', data, { key, padding: cryptoConstants.RSA_PKCS1_PADDING });
}

/** The same bytes in another base64url spelling: the unused low bits of the last character set. */
function nonCanonical(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const unused = { 2: 0b1111, 3: 0b11 }[segment.length % 4];
  if (unused === undefined) return segment;
  const last = alphabet.indexOf(segment[segment.length - 1]);
  return segment.slice(0, -1) + alphabet[(last & ~unused) | unused];
}

function flipSignatureBit(segment: string): string {
  const bytes = Buffer.from(segment, 'base64url');
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  return bytes.toString('base64url');
}

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

// ---- generators --------------------------------------------------------------------------------
// Each field is mostly good and sometimes bad, so that a fair share of the tokens is valid (and the
// fast path has something to accept) while every kind of fault still comes up often.

const often = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>, weight = 10) =>
  fc.oneof({ weight, arbitrary: good }, { weight: 1, arbitrary: bad });

/** Offsets around a tolerance boundary (tolerances are 0, 5 or 10 s), fractions included. */
const nearBoundary = fc.oneof(
  fc.integer({ min: -12, max: 12 }),
  fc.constantFrom(-10.5, -5.5, -4.5, 4.5, 5.5, 10.5, 0.5, -0.5),
);
const json = (n: number) => ({ json: String(n) });
const junkDate = fc.constantFrom(
  { json: '"soon"' },
  { json: 'null' },
  { json: '1e400' },
  { json: '-1e400' },
  { json: `[${T0}]` },
  { json: 'true' },
);
type DateClaim = { json: string } | undefined;

const expArb: fc.Arbitrary<DateClaim> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: T0 + 60, max: T0 + 3600 }).map(json) },
  { weight: 3, arbitrary: nearBoundary.map((d) => json(T0 + d)) },
  { weight: 1, arbitrary: fc.integer({ min: T0 - 100_000, max: T0 + 100_000 }).map(json) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(undefined), junkDate) },
);
const nbfArb: fc.Arbitrary<DateClaim> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.integer({ min: T0 - 3600, max: T0 - 15 }).map(json) },
  { weight: 3, arbitrary: nearBoundary.map((d) => json(T0 + d)) },
  { weight: 1, arbitrary: junkDate },
);
const iatArb: fc.Arbitrary<DateClaim> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: T0 - 25, max: T0 - 15 }).map(json) },
  { weight: 3, arbitrary: nearBoundary.map((d) => json(T0 + d)) },
  { weight: 2, arbitrary: nearBoundary.map((d) => json(T0 - 30 + d)) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(undefined), junkDate) },
);
const stringClaim = (good: string) =>
  often(
    fc.constant<string | undefined>(JSON.stringify(good)),
    fc.constantFrom(
      undefined,
      '""',
      'null',
      '42',
      JSON.stringify(`${good}x`),
      JSON.stringify(good.toUpperCase()),
    ),
  );
const audClaim = often(
  fc.constantFrom<string | undefined>(JSON.stringify(AUDIENCE), JSON.stringify(['other', AUDIENCE])),
  fc.constantFrom(undefined, '"other"', '[]', '["other"]', '[1, null]', `[1, "${AUDIENCE}"]`, '{}'),
);

const claimsArb = fc.record({
  exp: expArb,
  nbf: nbfArb,
  iat: iatArb,
  sub: stringClaim('user-1'),
  iss: stringClaim(ISSUER),
  aud: audClaim,
  jti: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constant('"j-1"') },
    { weight: 1, arbitrary: fc.constantFrom('""', '7') },
  ),
  extra: fc.dictionary(
    fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'sub', 'exp', 'role')),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 3 },
  ),
  /**
   * Serialisation: pretty JSON, an earlier duplicate key (the last wins), an own "__proto__" member,
   * a UTF-8 byte-order mark (jose's decoder drops it) are all valid; an array or invalid UTF-8 not.
   */
  shape: often(
    fc.constantFrom('compact', 'compact', 'pretty', 'duplicate', 'proto', 'bom'),
    fc.constantFrom('array', 'invalidUtf8', 'null', 'number'),
    8,
  ),
});

const headerArb = fc.record({
  alg: often(
    fc.constant('key'),
    fc.constantFrom('HS256', 'HS512', 'ES256', 'ES512', 'EdDSA', 'PS256', 'RS384', 'none', 'ML-DSA-44'),
  ),
  typ: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom('JWT', 'jwt', 'at+jwt', 'AT+JWT', 'application/at+jwt') },
    { weight: 1, arbitrary: fc.constantFrom('x', 42) },
  ),
  kid: fc.option(often(fc.string({ maxLength: 8 }), fc.constant<string | number>(7)), { nil: undefined }),
  extra: often(
    fc.constant(undefined),
    fc.constantFrom<Record<string, unknown>>(
      { crit: ['b64'], b64: true },
      { crit: ['exp'], exp: 1 },
      { crit: [] },
      { b64: false },
      { jku: 'https://evil.example/jwks' },
      { x5u: 'https://evil.example/cert' },
      { jwk: { kty: 'oct', k: 'AAAA' } },
      { x5c: ['MIIB'] },
      { cty: 'JWT' },
      { zip: 'DEF' },
      JSON.parse('{"__proto__":{"alg":"none"}}') as Record<string, unknown>,
    ),
    8,
  ),
  order: fc.boolean(),
});

const tamperArb = often(
  fc.constantFrom(
    'none',
    'none',
    'none',
    'nonCanonicalSignature',
    'nonCanonicalPayload',
    'nonCanonicalHeader',
  ),
  fc.constantFrom(
    'flipSignature',
    'otherKey',
    'swapPayload',
    'changeAlg',
    'truncateSignature',
    'emptySignature',
    'segment4n1',
    'pssSalt',
    'headerInvalidUtf8',
  ),
  3,
);

const configArb = fc.record({
  issuer: fc.option(fc.constant(ISSUER), { nil: undefined }),
  audience: fc.option(fc.constantFrom<string | string[]>(AUDIENCE, [AUDIENCE, 'second'], ['second']), {
    nil: undefined,
  }),
  typ: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('JWT', 'at+jwt', 'application/at+jwt') },
  ),
  maxTokenAgeSec: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(1, 30, 3600) },
  ),
  requiredClaims: fc.option(fc.constantFrom<string[]>([], ['sub'], ['exp', 'iat', 'sub', 'jti'], ['role']), {
    nil: undefined,
  }),
  clockToleranceSec: fc.constantFrom(0, 5, 10),
  clockDrift: fc.constantFrom(0, 0, 0.999, 2),
});

// ---- token construction ------------------------------------------------------------------------

type ClaimSpec = typeof claimsArb extends fc.Arbitrary<infer C> ? C : never;
type HeaderSpec = typeof headerArb extends fc.Arbitrary<infer H> ? H : never;
type ConfigSpec = typeof configArb extends fc.Arbitrary<infer C> ? C : never;

function payloadBytes(spec: ClaimSpec): Buffer {
  const members: string[] = [];
  for (const [name, value] of Object.entries(spec.extra))
    members.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  const add = (name: string, json: string | undefined) => {
    if (json !== undefined) members.push(`${JSON.stringify(name)}:${json}`);
  };
  add('exp', spec.exp?.json);
  add('nbf', spec.nbf?.json);
  add('iat', spec.iat?.json);
  add('sub', spec.sub);
  add('iss', spec.iss);
  add('aud', spec.aud);
  add('jti', spec.jti);
  switch (spec.shape) {
    case 'pretty':
      return Buffer.from(`{\n  ${members.join(',\n  ')}\n}\n`);
    case 'duplicate':
      // An earlier, different "sub": JSON.parse keeps the last one, for jose and for the fast path.
      return Buffer.from(`{"sub":"someone-else",${members.join(',')}}`);
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{${members.join(',')}}`)]);
    case 'array':
      return Buffer.from(`[{${members.join(',')}}]`);
    case 'null':
      return Buffer.from('null');
    case 'number':
      return Buffer.from(String(T0));
    case 'invalidUtf8':
      return Buffer.concat([Buffer.from(`{${members.join(',')}`), Buffer.from(',"x":"\xff"}', 'latin1')]);
    case 'proto':
      return Buffer.from(`{"__proto__":{"admin":true},${members.join(',')}}`);
    default:
      return Buffer.from(`{${members.join(',')}}`);
  }
}

function headerOf(spec: HeaderSpec, alg: string): Record<string, unknown> {
  const header: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {
    ...(spec.typ !== undefined ? { typ: spec.typ } : {}),
    ...(spec.kid !== undefined ? { kid: spec.kid } : {}),
    ...(spec.extra ?? {}),
  };
  if (spec.order) header.alg = alg;
  Object.assign(header, rest);
  if (!spec.order) header.alg = alg;
  return header;
}

async function makeToken(
  kind: KeyKind,
  algIndex: number,
  headerSpec: HeaderSpec,
  claims: ClaimSpec,
  tamper: string,
  byJose: boolean,
): Promise<string> {
  const alg = headerSpec.alg === 'key' ? kind.algorithms[algIndex % kind.algorithms.length] : headerSpec.alg;
  const header = headerOf(headerSpec, alg);
  const payload = payloadBytes(claims);
  let token: string | undefined;
  if (byJose && (tamper === 'none' || tamper.startsWith('flip')) && !('crit' in header) && alg !== 'none') {
    try {
      const key = Buffer.isBuffer(kind.signer) ? new Uint8Array(kind.signer) : kind.signer;
      token = await new jose.CompactSign(payload)
        .setProtectedHeader(header as jose.CompactJWSHeaderParameters)
        .sign(key);
    } catch {
      token = undefined; // jose refuses to sign this combination (alg vs key): sign by hand instead
    }
  }
  if (token === undefined) {
    // A kid with a byte that is not UTF-8: jose's strict decoder refuses the header.
    let h =
      tamper === 'headerInvalidUtf8'
        ? b64(Buffer.from(JSON.stringify({ ...header, kid: 'KID' }).replace('"KID"', '"k\xfe"'), 'latin1'))
        : b64(JSON.stringify(header));
    let p = b64(payload);
    if (tamper === 'nonCanonicalHeader') h = nonCanonical(h);
    if (tamper === 'nonCanonicalPayload') p = nonCanonical(p);
    const input = `${h}.${p}`;
    let signature: Buffer;
    try {
      signature = handSign(
        alg,
        input,
        tamper === 'otherKey' ? kind.otherSigner : kind.signer,
        tamper === 'pssSalt' ? 20 : undefined,
      );
    } catch {
      signature = randomBytes(64); // no such signature with this key: a random one
    }
    token = `${input}.${b64(signature)}`;
  }
  const [h, p, s] = token.split('.');
  switch (tamper) {
    case 'flipSignature':
      return `${h}.${p}.${flipSignatureBit(s)}`;
    case 'swapPayload':
      return `${h}.${b64(JSON.stringify({ sub: 'admin', exp: T0 + 60, iat: T0, iss: ISSUER, aud: AUDIENCE }))}.${s}`;
    case 'changeAlg': {
      const other = kind.algorithms.find((a) => a !== alg) ?? 'HS256';
      return `${b64(JSON.stringify({ ...header, alg: other }))}.${p}.${s}`;
    }
    case 'truncateSignature':
      return `${h}.${p}.${s.slice(0, -4)}`;
    case 'emptySignature':
      return `${h}.${p}.`;
    case 'nonCanonicalSignature':
      return `${h}.${p}.${nonCanonical(s)}`;
    case 'segment4n1':
      return `${h}.${p}.${s.length % 4 === 0 ? `${s}A` : s.length % 4 === 3 ? `${s}AA` : `${s}AAA`}`;
    default:
      return token;
  }
}

// ---- the comparison ----------------------------------------------------------------------------

type Verdict = { ok: true; value: VerifiedToken } | { ok: false; code: string; message: string };

async function verdict(promise: Promise<VerifiedToken>): Promise<Verdict> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (!(error instanceof BulwarkTokenError)) throw error;
    return { ok: false, code: error.code, message: error.message };
  }
}

/**
 * The service's verdict with the fast path on, its synchronous answer (`tryVerifySync`), and jose's
 * alone (fast path off; on `referenceService`, a fresh one by default the same), for one token.
 */
async function bothVerdicts(
  service: TokenService,
  token: string,
  referenceService: TokenService = service,
): Promise<{ fast: Verdict; reference: Verdict; taken: boolean; sync: VerifiedToken | undefined }> {
  // The fast path runs synchronously inside verify(), before its first await: the switch is read then.
  plainJwsFastPath.enabled = false;
  const before = plainJwsFastPath.accepted;
  const reference = verdict(referenceService.verify(token));
  plainJwsFastPath.enabled = true;
  const sync = service.tryVerifySync(token);
  const fast = verdict(service.verify(token));
  const taken = plainJwsFastPath.accepted > before;
  return { fast: await fast, reference: await reference, taken, sync };
}

function serviceFor(kind: KeyKind, config: ConfigSpec): TokenService {
  return new TokenService({
    algorithms: kind.algorithms,
    legacyAlgorithms: kind.legacy,
    verification: { key: kind.verifyKey },
    issuer: config.issuer,
    audience: config.audience,
    typ: config.typ,
    maxTokenAgeSec: config.maxTokenAgeSec,
    requiredClaims: config.requiredClaims,
    clockToleranceSec: config.clockToleranceSec,
    clock: () => new Date((T0 + config.clockDrift) * 1000),
  });
}

afterEach(() => {
  plainJwsFastPath.enabled = true;
});

/** Claims valid for most generated configs: a primer token with them fills the header cache. */
const PRIMER_CLAIMS: ClaimSpec = {
  exp: { json: String(T0 + 600) },
  nbf: undefined,
  iat: { json: String(T0) },
  sub: '"user-1"',
  iss: JSON.stringify(ISSUER),
  aud: JSON.stringify([AUDIENCE, 'second']),
  jti: '"j-1"',
  extra: { role: 'r' },
  shape: 'compact',
};

describe('TokenService fast path: differential against jose', () => {
  it.each(KINDS.map((k) => [k.name, k] as const))(
    '%s: the same verdict, payload and error as jose for random claims, headers, times and tamperings',
    async (_name, kind) => {
      const stats = { taken: 0, accepted: 0, rejected: 0, sync: 0, primed: 0 };
      await fc.assert(
        fc.asyncProperty(
          configArb,
          fc.nat(),
          headerArb,
          claimsArb,
          tamperArb,
          fc.boolean(),
          fc.boolean(),
          async (config, algIndex, headerSpec, claims, tamper, byJose, prime) => {
            const service = serviceFor(kind, config);
            const token = await makeToken(kind, algIndex, headerSpec, claims, tamper, byJose);
            if (prime) {
              // A correctly signed token with the same header first: when the fast path accepts it,
              // its header segment is remembered, and the token under test (tampered or not) is
              // preflighted from that cache. jose's verdict comes from a fresh service.
              const primer = await makeToken(kind, algIndex, headerSpec, PRIMER_CLAIMS, 'none', false);
              const before = plainJwsFastPath.accepted;
              await verdict(service.verify(primer));
              if (plainJwsFastPath.accepted > before && primer.split('.')[0] === token.split('.')[0]) {
                stats.primed++;
              }
            }
            const { fast, reference, taken, sync } = await bothVerdicts(
              service,
              token,
              serviceFor(kind, config),
            );
            expect(fast).toEqual(reference);
            // The synchronous answer is the same result, or "not sure"; never for a refused token.
            if (sync !== undefined) {
              expect({ ok: true, value: sync }).toEqual(reference);
              stats.sync++;
            }
            if (fast.ok) {
              // Identical objects, own "__proto__" member included; and the same prototype.
              expect(Object.getPrototypeOf(fast.value.payload)).toBe(Object.prototype);
              expect(Object.keys(fast.value.payload)).toEqual(
                Object.keys((reference as { value: VerifiedToken }).value.payload),
              );
              stats.accepted++;
            } else {
              stats.rejected++;
              // Rejections are never the fast path's.
              expect(taken).toBe(false);
            }
            if (taken) stats.taken++;
          },
        ),
        { numRuns: kind.name === 'RSA-3072' ? 150 : 300 },
      );
      if (process.env.FP_STATS) console.log(kind.name, stats);
      // The runs exercised both verdicts, and the fast path took most of the tokens jose accepted
      // (the rest have a non-plain header or an unusual but valid claim such as `"exp": 1e400`).
      expect(stats.accepted).toBeGreaterThanOrEqual(5);
      expect(stats.rejected).toBeGreaterThanOrEqual(50);
      expect(stats.taken).toBeGreaterThanOrEqual(Math.max(3, stats.accepted / 3));
      expect(stats.taken).toBeLessThanOrEqual(stats.accepted);
      // The synchronous entry accepts what the fast path takes; the header cache was exercised.
      expect(stats.sync).toBe(stats.taken);
      expect(stats.primed).toBeGreaterThanOrEqual(5);
    },
  );
});

describe('TokenService fast path: taken for the plain case only', () => {
  const now = () => new Date(T0 * 1000);
  const claims = { sub: 'user-1', iat: T0 - 10, exp: T0 + 60, iss: ISSUER, aud: AUDIENCE };
  let subtleVerify: jest.SpyInstance;

  beforeEach(() => {
    // jose verifies through WebCrypto: a call here means the token went to jose.
    subtleVerify = jest.spyOn(globalThis.crypto.subtle, 'verify');
  });
  afterEach(() => subtleVerify.mockRestore());

  function hsService(overrides: Partial<TokenServiceOptions> = {}): TokenService {
    return new TokenService({
      algorithms: ['HS256'],
      verification: { key: secret },
      issuer: ISSUER,
      audience: AUDIENCE,
      clock: now,
      ...overrides,
    });
  }

  function handToken(
    header: Record<string, unknown>,
    payload: unknown = claims,
    key: KeyObject | Buffer = secret,
  ) {
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
    return `${input}.${b64(handSign(String(header.alg), input, key))}`;
  }

  it('a plain HS256 token is accepted without jose (no WebCrypto call), with jose’s result', async () => {
    const service = hsService();
    const token = handToken({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    const before = plainJwsFastPath.accepted;
    const result = await service.verify(token);
    expect(plainJwsFastPath.accepted).toBe(before + 1);
    expect(subtleVerify).not.toHaveBeenCalled();
    expect(result).toEqual({ payload: claims, protectedHeader: { alg: 'HS256', typ: 'JWT', kid: 'k1' } });

    // The control: the same token with the fast path off goes to jose, which agrees.
    plainJwsFastPath.enabled = false;
    await expect(service.verify(token)).resolves.toEqual(result);
    expect(subtleVerify).toHaveBeenCalledTimes(1);
    expect(plainJwsFastPath.accepted).toBe(before + 1);
  });

  it.each([
    ['EdDSA', ed],
    ['ES256', p256],
    ['PS256', rsa],
  ] as const)('a plain %s token is accepted without jose', async (alg, keys) => {
    const service = new TokenService({
      algorithms: [alg],
      verification: { key: keys.publicKey },
      clock: now,
    });
    const before = plainJwsFastPath.accepted;
    await expect(service.verify(handToken({ alg }, claims, keys.privateKey))).resolves.toMatchObject({
      payload: claims,
    });
    expect(plainJwsFastPath.accepted).toBe(before + 1);
    expect(subtleVerify).not.toHaveBeenCalled();
  });

  it.each<[string, Record<string, unknown>]>([
    ['crit + b64', { crit: ['b64'], b64: true }],
    ['b64 without crit', { b64: false }],
    ['jku', { jku: 'https://evil.example/jwks' }],
    ['jwk', { jwk: { kty: 'oct', k: 'AAAA' } }],
    ['x5u', { x5u: 'https://evil.example/cert' }],
    ['x5c', { x5c: ['MIIB'] }],
    ['cty', { cty: 'JWT' }],
    ['a private parameter', { 'x-tenant': 'a' }],
    ['a numeric kid', { kid: 7 }],
    ['a numeric typ', { typ: 1 }],
  ])('a token with %s in its header goes to jose', async (_what, extra) => {
    const service = hsService();
    const token = handToken({ alg: 'HS256', ...extra });
    const before = plainJwsFastPath.accepted;
    const fast = await verdict(service.verify(token));
    plainJwsFastPath.enabled = false;
    const reference = await verdict(service.verify(token));
    expect(fast).toEqual(reference);
    expect(plainJwsFastPath.accepted).toBe(before);
    expect(subtleVerify).toHaveBeenCalledTimes(2);
  });

  it('invalid tokens go to jose, which gives the error as before', async () => {
    const service = hsService({ typ: 'at+jwt', maxTokenAgeSec: 60 });
    const good = handToken({ alg: 'HS256', typ: 'at+jwt' });
    await expect(service.verify(good)).resolves.toBeDefined();
    const before = plainJwsFastPath.accepted;
    const cases: [string, string][] = [
      [
        `${good.slice(0, good.lastIndexOf('.'))}.${flipSignatureBit(good.split('.')[2])}`,
        ErrorCodes.TOKEN_SIGNATURE_INVALID,
      ],
      [
        handToken({ alg: 'HS256', typ: 'at+jwt' }, claims, randomBytes(32)),
        ErrorCodes.TOKEN_SIGNATURE_INVALID,
      ],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, exp: T0 - 6 }), ErrorCodes.TOKEN_EXPIRED],
      [
        handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, nbf: T0 + 6 }),
        ErrorCodes.TOKEN_NOT_YET_VALID,
      ],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, iat: T0 - 70 }), ErrorCodes.TOKEN_EXPIRED],
      [
        handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, iat: T0 + 6 }),
        ErrorCodes.TOKEN_NOT_YET_VALID,
      ],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, iss: 'x' }), ErrorCodes.TOKEN_CLAIM_INVALID],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, aud: ['x'] }), ErrorCodes.TOKEN_CLAIM_INVALID],
      [
        handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, sub: undefined }),
        ErrorCodes.TOKEN_CLAIM_INVALID,
      ],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, sub: null }), ErrorCodes.TOKEN_CLAIM_INVALID],
      [
        handToken({ alg: 'HS256', typ: 'at+jwt' }, { ...claims, exp: 'later' }),
        ErrorCodes.TOKEN_CLAIM_INVALID,
      ],
      [handToken({ alg: 'HS256', typ: 'JWT' }), ErrorCodes.TOKEN_CLAIM_INVALID],
      [handToken({ alg: 'HS256' }), ErrorCodes.TOKEN_CLAIM_INVALID],
      [handToken({ alg: 'HS256', typ: 'at+jwt' }, [claims]), ErrorCodes.TOKEN_MALFORMED],
      [handToken({ alg: 'HS256', typ: 'at+jwt', crit: ['exp'], exp: 1 }), ErrorCodes.TOKEN_MALFORMED],
    ];
    for (const [token, code] of cases) {
      const error = await verdict(service.verify(token));
      expect(error).toMatchObject({ ok: false, code });
    }
    expect(plainJwsFastPath.accepted).toBe(before);
  });

  it('time boundaries are jose’s to the second: accepted by the fast path exactly when jose accepts', async () => {
    // now = T0, clockToleranceSec 5, maxTokenAgeSec 60.
    const service = hsService({ clockToleranceSec: 5, maxTokenAgeSec: 60 });
    const cases: [Record<string, unknown>, boolean][] = [
      [{ exp: T0 - 5 }, false], // exp <= now - tolerance: expired
      [{ exp: T0 - 4.5 }, true],
      [{ exp: T0 - 4 }, true],
      [{ nbf: T0 + 5 }, true], // nbf > now + tolerance fails
      [{ nbf: T0 + 5.5 }, false],
      [{ iat: T0 + 5 }, true],
      [{ iat: T0 + 5.5 }, false],
      [{ iat: T0 - 65 }, true], // age - tolerance > maxTokenAge fails
      [{ iat: T0 - 65.5 }, false],
      [{ iat: T0 - 66 }, false],
    ];
    // Without maxTokenAge, only the service's own check keeps iat out of the future.
    const noMaxAge = hsService({ clockToleranceSec: 5 });
    for (const [change, valid] of cases) {
      const token = handToken({ alg: 'HS256' }, { ...claims, ...change });
      for (const s of change.iat !== undefined ? [service, noMaxAge] : [service]) {
        const expected = s === noMaxAge ? !((change.iat as number) > T0 + 5) : valid;
        const { fast, reference, taken } = await bothVerdicts(s, token);
        expect({ change, fast }).toEqual({ change, fast: reference });
        expect({ change, ok: fast.ok, taken }).toEqual({ change, ok: expected, taken: expected });
      }
    }
  });

  it('PS* takes only the salt length RFC 7518 §3.5 fixes (the hash size), as WebCrypto does for jose', async () => {
    const service = new TokenService({
      algorithms: ['PS256'],
      verification: { key: rsa.publicKey },
      clock: now,
    });
    const input = `${b64(JSON.stringify({ alg: 'PS256' }))}.${b64(JSON.stringify(claims))}`;
    const before = plainJwsFastPath.accepted;
    for (const salt of [0, 20, 64]) {
      const token = `${input}.${b64(handSign('PS256', input, rsa.privateKey, salt))}`;
      const { fast, reference, taken } = await bothVerdicts(service, token);
      expect(fast).toEqual(reference);
      expect(fast).toMatchObject({ ok: false, code: ErrorCodes.TOKEN_SIGNATURE_INVALID });
      expect(taken).toBe(false);
    }
    expect(plainJwsFastPath.accepted).toBe(before);
    await expect(
      service.verify(`${input}.${b64(handSign('PS256', input, rsa.privateKey))}`),
    ).resolves.toBeDefined();
    expect(plainJwsFastPath.accepted).toBe(before + 1);
  });

  it('a JWKS verifier never takes the fast path', async () => {
    const jwk = { ...createPublicKey(ed.privateKey).export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' };
    const service = new TokenService({
      algorithms: ['EdDSA'],
      verification: { jwks: { keys: [jwk] } },
      clock: now,
    });
    const before = plainJwsFastPath.accepted;
    await expect(
      service.verify(handToken({ alg: 'EdDSA', kid: 'k1' }, claims, ed.privateKey)),
    ).resolves.toBeDefined();
    expect(plainJwsFastPath.accepted).toBe(before);
    expect(subtleVerify).toHaveBeenCalledTimes(1);
  });

  it('remembered header segments are keyed by the exact segment: each token keeps its own header, forgeries are refused', async () => {
    const service = hsService();
    // More distinct headers than the cache holds: entries are evicted and re-parsed, never mixed up.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) {
        const header = { alg: 'HS256', typ: 'JWT', kid: `k${i}` };
        const token = handToken(header);
        expect(service.tryVerifySync(token)).toEqual({ payload: claims, protectedHeader: header });
        await expect(service.verify(token)).resolves.toEqual({ payload: claims, protectedHeader: header });
        const [h, p, s] = token.split('.');
        // The same (remembered) header segment over another payload, a changed signature, another key.
        const swapped = `${h}.${b64(JSON.stringify({ ...claims, sub: 'admin' }))}.${s}`;
        const forged = handToken(header, claims, randomBytes(32));
        for (const bad of [swapped, `${h}.${p}.${flipSignatureBit(s)}`, forged, `${h}.${p}!.${s}`]) {
          expect(service.tryVerifySync(bad)).toBeUndefined();
          await expect(verdict(service.verify(bad))).resolves.toMatchObject({ ok: false });
        }
      }
    }
    // A returned header is the caller's own copy: changing it changes no later result.
    const token = handToken({ alg: 'HS256', kid: 'k1' });
    const first = service.tryVerifySync(token)!;
    first.protectedHeader.kid = 'changed';
    expect(service.tryVerifySync(token)!.protectedHeader).toEqual({ alg: 'HS256', kid: 'k1' });
  });

  it('a timing-safe comparison: an HMAC of the wrong length or bytes is never accepted by the fast path', async () => {
    const service = hsService();
    const token = handToken({ alg: 'HS256' });
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    const before = plainJwsFastPath.accepted;
    for (const forged of [sig.subarray(0, 31), Buffer.concat([sig, Buffer.alloc(1)]), Buffer.alloc(32)]) {
      await expect(verdict(service.verify(`${h}.${p}.${b64(forged)}`))).resolves.toMatchObject({
        ok: false,
        code: ErrorCodes.TOKEN_SIGNATURE_INVALID,
      });
    }
    expect(plainJwsFastPath.accepted).toBe(before);
  });
});
