import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import {
  BruteForceGuard,
  BulwarkHttpError,
  BulwarkIdentityError,
  ErrorCodes,
  MfaPolicy,
  type AuditEvent,
} from '@bulwark/core';
import { SignInMapper } from '@bulwark/identity';
import {
  MemorySamlReplayStore,
  RedisSamlReplayStore,
  SamlServiceProvider,
  type SamlReplayStore,
  type SamlServiceProviderOptions,
} from '@bulwark/identity/saml';
import Redis from 'ioredis';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import {
  buildLogoutRequest,
  buildLogoutResponse,
  buildResponse,
  generateKeyPair,
  parseForm,
  redirectMessage,
  TestIdp,
  type KeyPair,
  type ResponseSpec,
} from '../../../../test/support/saml/test-idp';

const SP = 'https://hr.bulwark.test/saml/metadata';
const ACS = 'https://hr.bulwark.test/auth/saml/acs';
const SLO = 'https://hr.bulwark.test/auth/saml/logout';

let idp: TestIdp;
let otherKey: KeyPair;
const events: AuditEvent[] = [];

beforeAll(async () => {
  idp = await TestIdp.start();
  idp.spLogoutUrl = SLO;
  otherKey = generateKeyPair('attacker');
});
afterAll(() => idp.stop());
beforeEach(() => {
  events.length = 0;
  idp.user = {
    nameId: 'alice@bulwark.test',
    attributes: { groups: ['hr-staff'], displayName: ['Alice Archer'] },
  };
});

function sp(overrides: Partial<SamlServiceProviderOptions> = {}): SamlServiceProvider {
  return new SamlServiceProvider({
    provider: 'corp-saml',
    entityId: SP,
    acsUrl: ACS,
    logoutUrl: SLO,
    idp: {
      entityId: idp.entityId,
      ssoUrl: idp.ssoUrl,
      sloUrl: idp.sloUrl,
      certificates: [idp.key.certificate],
    },
    mapper: new SignInMapper({
      roles: { 'hr-staff': ['hr'] },
      audit: { append: async (e) => void events.push(e) },
    }),
    ...overrides,
  });
}

/** Browser round trip: the SP's AuthnRequest through the running IdP, back as the ACS form. */
async function loginForm(
  provider: SamlServiceProvider,
  relayState = '/home',
): Promise<Record<string, string>> {
  const answer = await fetch(await provider.loginUrl(relayState));
  expect(answer.status).toBe(200);
  const { action, fields } = parseForm(await answer.text());
  expect(action).toBe(ACS);
  return fields;
}

/** The AuthnRequest id of a fresh login, for hand-made responses answering it. */
async function requestId(provider: SamlServiceProvider): Promise<string> {
  return /\sID="([^"]+)"/.exec(redirectMessage(await provider.loginUrl()))![1]!;
}

function spec(inResponseTo: string | undefined, overrides: Partial<ResponseSpec> = {}): ResponseSpec {
  return {
    issuer: idp.entityId,
    destination: ACS,
    recipient: ACS,
    audience: SP,
    ...(inResponseTo !== undefined ? { inResponseTo } : {}),
    nameId: 'alice@bulwark.test',
    key: idp.key,
    ...overrides,
  };
}

const post = (xml: string): { SAMLResponse: string } => ({
  SAMLResponse: Buffer.from(xml).toString('base64'),
});

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BulwarkIdentityError);
  expect((error as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_FAILED);
  return String((error as BulwarkIdentityError).details?.reason);
}

describe('SAML service provider against a running test IdP', () => {
  it('signs in through SP-initiated login and maps the groups attribute to roles', async () => {
    const provider = sp();
    const result = await provider.acs(await loginForm(provider), { ip: '192.0.2.1' });
    expect(result.principal.id).toBe('corp-saml:alice@bulwark.test');
    expect(result.principal.roles).toEqual(['hr']);
    expect(result.principal.authentication).toMatchObject({ method: 'saml', provider: 'corp-saml' });
    expect(result.relayState).toBe('/home');
    expect(result.session.nameId).toBe('alice@bulwark.test');
    expect(events.map((e) => [e.action, e.outcome])).toEqual([['auth.login', 'success']]);
  });

  it('publishes SP metadata with its entityID, ACS and signing certificate', () => {
    const signing = generateKeyPair('sp');
    const xml = sp({
      signing: { privateKey: signing.privateKey, certificate: signing.certificate },
    }).metadata();
    expect(xml).toContain(`entityID="${SP}"`);
    expect(xml).toContain(`Location="${ACS}"`);
    expect(xml).toContain('WantAssertionsSigned="true"');
    expect(xml).toContain(signing.certificate.split('\n')[1]!.slice(0, 40));
  });

  it('describes its configuration for compliance evidence', () => {
    expect(sp({ allowIdpInitiated: true }).describe()).toEqual({
      method: 'saml',
      provider: 'corp-saml',
      entityId: SP,
      idpEntityId: idp.entityId,
      signedAssertionsRequired: true,
      signedResponseRequired: true,
      idpInitiatedAllowed: true,
      signsRequests: false,
      bruteForceGuarded: false,
      replayStore: 'MemorySamlReplayStore',
    });
  });

  it('locks out an IP that keeps posting refused responses (429), other IPs unaffected', async () => {
    const guard = new BruteForceGuard({
      ip: { maxFailures: 2, windowSec: 600, lockoutSec: 600 },
      account: false,
      ipAccount: false,
    });
    const provider = sp({ bruteForce: guard });
    const forged = post(buildResponse(spec(undefined, { key: otherKey })));
    for (let i = 0; i < 2; i++) await reason(provider.acs(forged, { ip: '198.51.100.7' }));
    const locked = await provider
      .acs(await loginForm(provider), { ip: '198.51.100.7' })
      .catch((e: unknown) => e);
    expect((locked as BulwarkHttpError).code).toBe(ErrorCodes.HTTP_TOO_MANY_REQUESTS);
    expect((await provider.acs(await loginForm(provider), { ip: '198.51.100.8' })).principal.roles).toEqual([
      'hr',
    ]);
  });

  it('records the IdP-reported second factor from AuthnContextClassRef when configured', async () => {
    const ppt = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const plain = sp();
    expect((await plain.acs(await loginForm(plain))).principal.authentication?.factors).toEqual([
      'federated',
    ]);
    const strict = sp({ mfaContexts: [ppt] });
    const before = Date.now();
    const { principal } = await strict.acs(await loginForm(strict));
    expect(principal.authentication?.factors).toEqual(['federated', 'federated-mfa']);
    // Timed from the IdP's AuthnInstant, and accepted by MfaPolicy's defaults.
    expect(principal.authentication?.mfaAt).toBeGreaterThan(before - 120_000);
    expect(principal.authentication?.mfaAt).toBeLessThanOrEqual(principal.authentication!.at);
    expect(new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(principal).reason).toBe('verified');
    expect(
      new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(
        (await plain.acs(await loginForm(plain))).principal,
      ).reason,
    ).toBe('missing');
  });

  it('signs its AuthnRequests (HTTP-Redirect SigAlg RSA-SHA256) when given a key', async () => {
    const signing = generateKeyPair('sp-signing');
    const url = new URL(
      await sp({ signing: { privateKey: signing.privateKey, certificate: signing.certificate } }).loginUrl(
        '/x',
      ),
    );
    expect(url.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(url.searchParams.get('Signature')).toMatch(/^[A-Za-z0-9+/=]{100,}$/);
  });

  it('refuses a replayed response (the request id and the assertion id are spent)', async () => {
    const provider = sp();
    const fields = await loginForm(provider);
    await provider.acs(fields);
    expect(await reason(provider.acs(fields))).toBe('unknown_request');
  });

  it('refuses an IdP-initiated response by default and accepts it once when enabled', async () => {
    const xml = buildResponse(spec(undefined));
    expect(await reason(sp().acs(post(xml)))).toBe('unsolicited');
    const open = sp({ allowIdpInitiated: true });
    expect((await open.acs(post(xml))).principal.id).toBe('corp-saml:alice@bulwark.test');
    expect(await reason(open.acs(post(xml)))).toBe('replayed');
  });

  it('refuses an unsigned response', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { signAssertion: false, signResponse: false }));
    expect(await reason(provider.acs(post(xml)))).toBe('bad_signature');
  });

  it('refuses a signed response carrying an unsigned assertion', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { signAssertion: false }));
    expect(await reason(provider.acs(post(xml)))).toBe('bad_signature');
  });

  it('refuses a response signed by another key', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { key: otherKey }));
    expect(await reason(provider.acs(post(xml)))).toBe('bad_signature');
  });

  it('refuses an assertion for another SP (audience)', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { audience: 'https://other.example/sp' }));
    expect(await reason(provider.acs(post(xml)))).toBe('wrong_audience');
  });

  it('refuses an expired assertion', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { validForMinutes: -10 }));
    expect(await reason(provider.acs(post(xml)))).toBe('expired');
  });

  it('refuses a wrong or missing Destination, and a wrong Recipient', async () => {
    const provider = sp();
    const other = 'https://other.example/acs';
    expect(
      await reason(
        provider.acs(post(buildResponse(spec(await requestId(provider), { destination: other })))),
      ),
    ).toBe('wrong_destination');
    const { destination: _omitted, ...noDestination } = spec(await requestId(provider));
    expect(await reason(provider.acs(post(buildResponse(noDestination))))).toBe('wrong_destination');
    expect(
      await reason(provider.acs(post(buildResponse(spec(await requestId(provider), { recipient: other }))))),
    ).toBe('wrong_recipient');
  });

  it('refuses a response from another issuer', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider), { issuer: 'https://evil.example/idp' }));
    expect(await reason(provider.acs(post(xml)))).toMatch(/wrong_issuer|invalid_response/);
  });

  it('reads a NameID with a comment in it whole: admin<!---->@evil is not admin', async () => {
    const provider = sp({ mapper: new SignInMapper() });
    const xml = buildResponse(
      spec(await requestId(provider), { nameId: 'admin@bulwark.test<!---->.evil.example' }),
    );
    const result = await provider.acs(post(xml));
    expect(result.principal.id).toBe('corp-saml:admin@bulwark.test.evil.example');
    expect(result.session.nameId).toBe('admin@bulwark.test.evil.example');
  });

  it('refuses junk and oversize input with invalid_response, not a crash', async () => {
    const provider = sp();
    expect(await reason(provider.acs({ SAMLResponse: 'not base64 xml' }))).toMatch(
      /invalid_response|wrong_destination/,
    );
    expect(await reason(provider.acs({}))).toBe('invalid_response');
    expect(await reason(provider.acs(null))).toBe('invalid_response');
  });

  it('refuses a response with a DOCTYPE (entity expansion)', async () => {
    const provider = sp();
    const xml = buildResponse(spec(await requestId(provider)));
    expect(await reason(provider.acs(post(`<!DOCTYPE x [<!ENTITY a "b">]>${xml}`)))).toBe('invalid_response');
  });

  it('completes SP-initiated single logout with the IdP', async () => {
    const provider = sp();
    const { session } = await provider.acs(await loginForm(provider));
    const answer = await fetch(await provider.logoutUrl(session, '/bye'));
    const { action, fields } = parseForm(await answer.text());
    expect(action).toBe(SLO);
    await expect(provider.logoutResponse(fields)).resolves.toBeUndefined();
    // The same LogoutResponse again answers no pending request.
    expect(await reason(provider.logoutResponse(fields))).toBe('unknown_request');
  });
});

/** XML signature wrapping (Somorovsky et al., "On Breaking SAML", 2012), variants 1 to 8. */
describe('IdP-initiated single logout', () => {
  const request = (
    overrides: { key?: KeyPair; destination?: string; issuer?: string } = {},
  ): { SAMLRequest: string } => ({
    SAMLRequest: Buffer.from(
      buildLogoutRequest({
        issuer: overrides.issuer ?? idp.entityId,
        destination: overrides.destination ?? SLO,
        nameId: 'alice@bulwark.test',
        sessionIndex: '_s1',
        key: overrides.key ?? idp.key,
      }),
    ).toString('base64'),
  });

  it('returns the session to end and the IdP URL with our LogoutResponse, once per request', async () => {
    const provider = sp();
    const body = request();
    const { session, responseUrl } = await provider.logoutRequest(body);
    expect(session).toEqual({
      nameId: 'alice@bulwark.test',
      nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      sessionIndex: '_s1',
    });
    expect(responseUrl.startsWith(idp.sloUrl)).toBe(true);
    expect(redirectMessage(responseUrl.replace('SAMLResponse=', 'SAMLRequest='))).toMatch(
      /<samlp:LogoutResponse[^>]*InResponseTo="_q/,
    );
    expect(await reason(provider.logoutRequest(body))).toBe('replayed');
  });

  it('refuses a logout message without Destination on an SP without logoutUrl (undefined is no match)', async () => {
    const provider = sp({ logoutUrl: undefined });
    const noDestination = {
      SAMLRequest: Buffer.from(
        buildLogoutRequest({ issuer: idp.entityId, nameId: 'alice@bulwark.test', key: idp.key }),
      ).toString('base64'),
    };
    expect(await reason(provider.logoutRequest(noDestination))).toBe('wrong_destination');
    const response = {
      SAMLResponse: Buffer.from(
        buildLogoutResponse({ issuer: idp.entityId, inResponseTo: '_r1', key: idp.key }),
      ).toString('base64'),
    };
    expect(await reason(provider.logoutResponse(response))).toBe('wrong_destination');
    // With a logoutUrl configured, a missing Destination is refused as well.
    expect(await reason(sp().logoutRequest(noDestination))).toBe('wrong_destination');
  });

  it('refuses a LogoutRequest signed by another key, for another endpoint or from another issuer', async () => {
    const provider = sp();
    expect(await reason(provider.logoutRequest(request({ key: otherKey })))).toBe('bad_signature');
    expect(await reason(provider.logoutRequest(request({ destination: 'https://other.example/slo' })))).toBe(
      'wrong_destination',
    );
    expect(await reason(provider.logoutRequest(request({ issuer: 'https://evil.example/idp' })))).toMatch(
      /wrong_issuer|invalid_request/,
    );
    expect(await reason(provider.logoutRequest({}))).toBe('invalid_request');
  });
});

describe('SAML service provider against XML signature wrapping', () => {
  const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
  const NS_DSIG = 'http://www.w3.org/2000/09/xmldsig#';
  const parse = (xml: string): Document =>
    new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
  const serialize = (doc: Document): string => new XMLSerializer().serializeToString(doc as never);

  function firstChild(parent: Element, ns: string, name: string): Element {
    return Array.from(parent.childNodes).find(
      (n) => (n as Element).localName === name && (n as Element).namespaceURI === ns,
    ) as Element;
  }

  /** An evil copy of `assertion`: new ID, NameID admin, no signature. */
  function evilAssertion(assertion: Element): Element {
    const evil = assertion.cloneNode(true) as Element;
    evil.setAttribute('ID', '_evil');
    const sig = firstChild(evil, NS_DSIG, 'Signature');
    if (sig !== undefined) evil.removeChild(sig);
    const nameId = evil.getElementsByTagNameNS(NS_SAML, 'NameID')[0]!;
    nameId.textContent = 'admin@bulwark.test';
    return evil;
  }

  type Wrap = (doc: Document) => void;
  const variants: [string, boolean, Wrap][] = [
    [
      'XSW1: evil response at the root, the signed response inside its Signature',
      true,
      (doc) => {
        const original = doc.documentElement;
        const evil = original.cloneNode(true) as Element;
        evil.setAttribute('ID', '_evilresponse');
        const evilAssertionEl = firstChild(evil, NS_SAML, 'Assertion');
        evil.replaceChild(evilAssertion(evilAssertionEl), evilAssertionEl);
        const sig = firstChild(evil, NS_DSIG, 'Signature');
        const signed = original.cloneNode(true) as Element;
        signed.removeChild(firstChild(signed, NS_DSIG, 'Signature'));
        sig.appendChild(signed);
        doc.replaceChild(evil, original);
      },
    ],
    [
      'XSW2: evil response at the root, the signed response as a detached sibling before the Signature',
      true,
      (doc) => {
        const original = doc.documentElement;
        const evil = original.cloneNode(true) as Element;
        evil.setAttribute('ID', '_evilresponse');
        const evilAssertionEl = firstChild(evil, NS_SAML, 'Assertion');
        evil.replaceChild(evilAssertion(evilAssertionEl), evilAssertionEl);
        const sig = firstChild(evil, NS_DSIG, 'Signature');
        const signed = original.cloneNode(true) as Element;
        signed.removeChild(firstChild(signed, NS_DSIG, 'Signature'));
        evil.insertBefore(signed, sig);
        doc.replaceChild(evil, original);
      },
    ],
    [
      'XSW3: evil assertion inserted before the signed one',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        doc.documentElement.insertBefore(evilAssertion(assertion), assertion);
      },
    ],
    [
      'XSW4: evil assertion wrapping the signed one',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        const evil = evilAssertion(assertion);
        doc.documentElement.replaceChild(evil, assertion);
        evil.appendChild(assertion);
      },
    ],
    [
      'XSW5: evil assertion holding the copied Signature, the signed assertion appended after it',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        const evil = evilAssertion(assertion);
        const sig = firstChild(assertion, NS_DSIG, 'Signature');
        evil.insertBefore(sig.cloneNode(true), evil.firstChild!.nextSibling);
        assertion.removeChild(sig);
        doc.documentElement.replaceChild(evil, assertion);
        doc.documentElement.appendChild(assertion);
      },
    ],
    [
      'XSW6: evil assertion with the copied Signature, the signed assertion inside that Signature',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        const evil = evilAssertion(assertion);
        const sig = firstChild(assertion, NS_DSIG, 'Signature').cloneNode(true) as Element;
        assertion.removeChild(firstChild(assertion, NS_DSIG, 'Signature'));
        sig.appendChild(assertion.cloneNode(true));
        evil.insertBefore(sig, evil.firstChild!.nextSibling);
        doc.documentElement.replaceChild(evil, assertion);
      },
    ],
    [
      'XSW7: evil assertion with the signed one inside an Extensions element',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        const evil = evilAssertion(assertion);
        const extensions = doc.createElementNS('urn:oasis:names:tc:SAML:2.0:protocol', 'samlp:Extensions');
        extensions.appendChild(assertion.cloneNode(true));
        evil.appendChild(extensions);
        doc.documentElement.replaceChild(evil, assertion);
      },
    ],
    [
      'XSW8: evil assertion with the signed one (signature removed) inside ds:Object of the copied Signature',
      false,
      (doc) => {
        const assertion = firstChild(doc.documentElement, NS_SAML, 'Assertion');
        const evil = evilAssertion(assertion);
        const sig = firstChild(assertion, NS_DSIG, 'Signature').cloneNode(true) as Element;
        const object = doc.createElementNS(NS_DSIG, 'ds:Object');
        const inner = assertion.cloneNode(true) as Element;
        inner.removeChild(firstChild(inner, NS_DSIG, 'Signature'));
        object.appendChild(inner);
        sig.appendChild(object);
        evil.insertBefore(sig, evil.firstChild!.nextSibling);
        doc.documentElement.replaceChild(evil, assertion);
      },
    ],
  ];

  it.each(variants)('refuses %s', async (_name, signedResponse, wrap) => {
    // Assertion-level variants run against the weaker configuration (assertion signature only),
    // where the assertion's signature handling is the only defence.
    const provider = sp({ requireSignedResponse: signedResponse });
    const id = await requestId(provider);
    const doc = parse(buildResponse(spec(id, { signResponse: signedResponse })));
    wrap(doc);
    const attack = serialize(doc);
    expect(attack).toContain('admin@bulwark.test');
    const outcome = await provider.acs(post(attack)).then(
      (r) => r.principal.id,
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(BulwarkIdentityError);
  });

  it('accepts the untampered responses the variants start from (control)', async () => {
    for (const signedResponse of [true, false]) {
      const provider = sp({ requireSignedResponse: signedResponse });
      const xml = buildResponse(spec(await requestId(provider), { signResponse: signedResponse }));
      expect((await provider.acs(post(xml))).principal.id).toBe('corp-saml:alice@bulwark.test');
    }
  });
});

describeWithService('redis', 'SAML replay across two SP instances sharing Redis', () => {
  const prefix = `bulwark:test:saml:${process.pid}:${Date.now()}:`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(SERVICE_URLS.redis, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('a response accepted by one instance is refused by the other', async () => {
    const one = sp({ store: new RedisSamlReplayStore(redis, { keyPrefix: prefix }) });
    const two = sp({ store: new RedisSamlReplayStore(redis, { keyPrefix: prefix }) });
    const fields = await loginForm(one);
    // The request was made by instance one; instance two knows it through Redis.
    expect((await two.acs(fields)).principal.roles).toEqual(['hr']);
    expect(await reason(one.acs(fields))).toBe('unknown_request');
  });

  it('an IdP-initiated assertion is accepted once across instances', async () => {
    const one = sp({
      allowIdpInitiated: true,
      store: new RedisSamlReplayStore(redis, { keyPrefix: prefix }),
    });
    const two = sp({
      allowIdpInitiated: true,
      store: new RedisSamlReplayStore(redis, { keyPrefix: prefix }),
    });
    const xml = buildResponse(spec(undefined));
    const outcomes = await Promise.allSettled([one.acs(post(xml)), two.acs(post(xml))]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('SAML assertion replay window', () => {
  it('keeps an accepted assertion id until its NotOnOrAfter (+ skew), past the default window', async () => {
    const memory = new MemorySamlReplayStore();
    const claims: Array<[string, number]> = [];
    const recording: SamlReplayStore = {
      put: (k, v, t) => memory.put(k, v, t),
      get: (k) => memory.get(k),
      take: (k) => memory.take(k),
      claim: (k, t) => {
        claims.push([k, t]);
        return memory.claim(k, t);
      },
    };
    const provider = sp({ store: recording, allowIdpInitiated: true });
    const response = post(buildResponse(spec(undefined, { validForMinutes: 120 })));
    await provider.acs(response);
    const [key, ttl] = claims.find(([k]) => k.startsWith('assertion:'))!;
    expect(key).toContain(idp.entityId);
    // 120 minutes of validity + 30 s skew: the id outlives every moment node-saml would accept it.
    expect(ttl).toBeGreaterThanOrEqual(120 * 60_000);
    expect(await reason(provider.acs(response))).toBe('replayed');
  });

  it('refuses an assertion valid for more than a day', async () => {
    const provider = sp({ allowIdpInitiated: true });
    expect(
      await reason(provider.acs(post(buildResponse(spec(undefined, { validForMinutes: 25 * 60 }))))),
    ).toBe('invalid_response');
  });
});

describe('SAML replay store outage', () => {
  it('fails closed with ERR_SIGNIN_UNAVAILABLE when the store is down', async () => {
    const down: SamlReplayStore = {
      put: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379')),
      get: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379')),
      take: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379')),
      claim: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379')),
    };
    const login = await sp({ store: down })
      .loginUrl()
      .catch((e: unknown) => e);
    expect((login as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_UNAVAILABLE);
    expect((login as Error).message).not.toContain('10.0.0.7');
    const open = sp({ store: down, allowIdpInitiated: true });
    const acs = await open.acs(post(buildResponse(spec(undefined)))).catch((e: unknown) => e);
    expect((acs as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_UNAVAILABLE);
  });

  it('answers 503, not a counted 401, when the store fails during the InResponseTo check', async () => {
    const memory = new MemorySamlReplayStore();
    let up = true;
    const flaky: SamlReplayStore = {
      put: (k, v, t) => memory.put(k, v, t),
      get: (k) => (up ? memory.get(k) : Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379'))),
      take: (k) => (up ? memory.take(k) : Promise.reject(new Error('ECONNREFUSED 10.0.0.7:6379'))),
      claim: (k, t) => memory.claim(k, t),
    };
    const guard = new BruteForceGuard({
      ip: { maxFailures: 1, windowSec: 600, lockoutSec: 600 },
      account: false,
      ipAccount: false,
    });
    const provider = sp({ store: flaky, bruteForce: guard });
    const form = await loginForm(provider);
    up = false;
    const acs = await provider.acs(form, { ip: '198.51.100.9' }).catch((e: unknown) => e);
    expect((acs as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_UNAVAILABLE);
    expect((acs as Error).message).not.toContain('10.0.0.7');
    expect(events.filter((e) => e.outcome === 'failure')).toEqual([]);
    // Not counted against the IP: once the store is back, the same IP signs in.
    up = true;
    expect((await provider.acs(await loginForm(provider), { ip: '198.51.100.9' })).principal.roles).toEqual([
      'hr',
    ]);
  });
});

describe('MemorySamlReplayStore', () => {
  it('claims a key once and forgets it after its time to live', async () => {
    let now = 1000;
    const store = new MemorySamlReplayStore({ now: () => now });
    expect(await store.claim('a', 100)).toBe(true);
    expect(await store.claim('a', 100)).toBe(false);
    now += 101;
    expect(await store.claim('a', 100)).toBe(true);
    await store.put('r', 'v', 50);
    expect(await store.take('r')).toBe('v');
    expect(await store.take('r')).toBeNull();
  });

  it('is bounded: past maxEntries expired entries go, then the oldest request ids, never a valid claim', async () => {
    let now = 1000;
    const store = new MemorySamlReplayStore({ now: () => now, maxEntries: 3 });
    await store.put('req:short', 'v', 10);
    expect(await store.claim('assertion:a', 60_000)).toBe(true);
    await store.put('req:old', 'v', 60_000);
    now += 2000;
    await store.put('req:new', 'v', 60_000); // 'req:short' expired: it made the room
    expect(await store.get('req:old')).toBe('v');
    // A flood of anonymous logins pushes out older request ids, not the accepted assertion.
    for (let i = 0; i < 10; i++) await store.put(`req:flood-${i}`, 'v', 60_000);
    expect(await store.get('req:old')).toBeNull();
    expect(await store.get('req:flood-9')).toBe('v');
    expect(await store.claim('assertion:a', 60_000)).toBe(false);
    // Full of valid claims: refuses (the provider answers 503) rather than forget one.
    expect(await store.claim('assertion:b', 60_000)).toBe(true);
    expect(await store.claim('assertion:c', 60_000)).toBe(true);
    await expect(store.claim('assertion:d', 60_000)).rejects.toThrow(/full/);
    expect(await store.claim('assertion:a', 60_000)).toBe(false);
  });
});
