import { DOMParser } from '@xmldom/xmldom';

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

/** Signature algorithms accepted in SAML messages (no SHA-1: SHAttered, and SAML2int forbids it). */
export const SAML_SIGNATURE_ALGORITHMS: readonly string[] = Object.freeze([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
]);

/** Digest algorithms accepted in SAML signatures. */
export const SAML_DIGEST_ALGORITHMS: readonly string[] = Object.freeze([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

/** What the raw response says outside the assertion node-saml verified. */
export interface RawResponseFacts {
  readonly destination?: string;
  readonly inResponseTo?: string;
  /** Every SignatureMethod and DigestMethod in the document is on the allow-lists. */
  readonly algorithmsAllowed: boolean;
  /** The document has a DOCTYPE (entity tricks): refused outright. */
  readonly hasDoctype: boolean;
}

/** Reads the root element's Destination and InResponseTo and the signature algorithms used anywhere in it. */
export function rawResponseFacts(xml: string): RawResponseFacts {
  const hasDoctype = /<!DOCTYPE/i.test(xml);
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} },
  }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  const allowed = (tag: string, list: readonly string[]): boolean =>
    Array.from(doc.getElementsByTagNameNS(DSIG, tag)).every((el) =>
      list.includes(el.getAttribute('Algorithm') ?? ''),
    );
  const destination = root?.getAttribute('Destination') ?? '';
  const inResponseTo = root?.getAttribute('InResponseTo') ?? '';
  return {
    ...(destination !== '' ? { destination } : {}),
    ...(inResponseTo !== '' ? { inResponseTo } : {}),
    algorithmsAllowed:
      allowed('SignatureMethod', SAML_SIGNATURE_ALGORITHMS) &&
      allowed('DigestMethod', SAML_DIGEST_ALGORITHMS),
    hasDoctype,
  };
}

type XmlJs = Record<string, unknown>;

function children(node: unknown, name: string): XmlJs[] {
  const value = (node as XmlJs | undefined)?.[name];
  return Array.isArray(value) ? (value as XmlJs[]) : [];
}

function attr(node: XmlJs, name: string): string | undefined {
  const value = (node.$ as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The facts of a verified assertion (node-saml's xml2js form) that node-saml does not check itself. */
export interface AssertionFacts {
  readonly id?: string;
  readonly recipients: readonly string[];
  readonly authnContextClassRefs: readonly string[];
  /** The AuthnStatement's AuthnInstant (epoch ms), when it is a valid time. */
  readonly authnInstant?: number;
  /**
   * Until when (epoch ms) node-saml would accept the assertion: the latest bearer
   * SubjectConfirmationData NotOnOrAfter, bounded by Conditions NotOnOrAfter. Absent when no bearer
   * confirmation has a valid NotOnOrAfter (SAML Profiles §4.1.4.2 requires one).
   */
  readonly notOnOrAfter?: number;
}

export function assertionFacts(parsed: unknown): AssertionFacts {
  // node-saml parses with explicitRoot: the root is an object, not a one-element array.
  const root = (parsed as XmlJs | undefined)?.Assertion;
  const assertion = ((Array.isArray(root) ? root[0] : root) ?? {}) as XmlJs;
  const confirmations = children(assertion, 'Subject')
    .flatMap((s) => children(s, 'SubjectConfirmation'))
    .filter((c) => attr(c, 'Method') === 'urn:oasis:names:tc:SAML:2.0:cm:bearer')
    .flatMap((c) => children(c, 'SubjectConfirmationData'));
  const recipients = confirmations
    .map((d) => attr(d, 'Recipient'))
    .filter((r): r is string => r !== undefined);
  const until = confirmations.map((d) => Date.parse(attr(d, 'NotOnOrAfter') ?? '')).filter(Number.isFinite);
  const conditionsUntil = Date.parse(attr(children(assertion, 'Conditions')[0] ?? {}, 'NotOnOrAfter') ?? '');
  const notOnOrAfter =
    until.length === 0
      ? undefined
      : Number.isFinite(conditionsUntil)
        ? Math.min(Math.max(...until), conditionsUntil)
        : Math.max(...until);
  const authnContextClassRefs = children(assertion, 'AuthnStatement')
    .flatMap((s) => children(s, 'AuthnContext'))
    .flatMap((c) => children(c, 'AuthnContextClassRef'))
    .map((r) => (typeof r === 'string' ? r : typeof r._ === 'string' ? r._ : undefined))
    .filter((r): r is string => r !== undefined);
  const id = attr(assertion, 'ID');
  const instants = children(assertion, 'AuthnStatement')
    .map((s) => Date.parse(attr(s, 'AuthnInstant') ?? ''))
    .filter(Number.isFinite);
  const authnInstant = instants.length > 0 ? Math.max(...instants) : undefined;
  return {
    ...(id !== undefined ? { id } : {}),
    recipients,
    authnContextClassRefs,
    ...(authnInstant !== undefined ? { authnInstant } : {}),
    ...(notOnOrAfter !== undefined ? { notOnOrAfter } : {}),
  };
}
