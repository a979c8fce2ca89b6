import { precomputedHmac, type PrecomputedHmac } from '../util/precomputed-hmac';
import type { BulwarkConfigError } from '../errors';
import type { AuditDetails, AuditJsonValue } from './audit-event';
import { canonicalize } from './canonical-json';
import { configError } from '../util/options';

/** Data classes (DESIGN: personal / sensitive / PHI / cardholder) plus `secret` for credentials. */
export type DataClassification = 'personal' | 'sensitive' | 'phi' | 'cardholder' | 'secret';

export interface RedactorOptions {
  /**
   * Field classification. A key without a dot is a field name matched at any depth
   * (case-, `_`- and `-`-insensitive: `dateOfBirth` also matches `date_of_birth`); a dotted key
   * is a path from the details root (`patient.address`, `items.*.pan`; array indices are not
   * path segments, `*` matches any one segment). The whole value under a match is replaced.
   */
  classification?: Readonly<Record<string, DataClassification>>;
  /** Extra field names treated as `secret`, on top of the built-in list. */
  secretNames?: readonly string[];
  /**
   * Replace values with a keyed hash instead of a fixed marker, so equal values can still be
   * correlated (`[REDACTED:phi:h:…]`). HMAC-SHA256 truncated to 128 bits; without the key the
   * marker reveals nothing about low-entropy values. `secret` fields are never pseudonymised.
   */
  pseudonymize?: { key: Uint8Array; classes?: readonly Exclude<DataClassification, 'secret'>[] };
  /** Redact any string holding a Luhn-valid 13-19 digit number (PCI DSS 3.4: no PAN in logs). Default true. */
  detectCardNumbers?: boolean;
  /** Config path used in error messages. Default `redactor` (createBulwark passes `audit.redactor`). */
  configPath?: string;
}

/** Credential-like names (normalised: lower case, letters and digits only). */
const BUILTIN_SECRET_NAMES = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'sessiontoken',
  'csrftoken',
  'xcsrftoken',
  'xsrftoken',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'apikey',
  'xapikey',
  'privatekey',
  'otp',
  'totp',
  'mfacode',
  'pin',
  'sessionid',
  'sid',
  'jwt',
  'bearer',
  'credentials',
  'signature',
  'hmackey',
  'masterkey',
  'dek',
  'kek',
];
/** Names ending like this are secrets too (`newPassword`, `githubToken`, `stripeApiKey`). */
const SECRET_SUFFIXES = ['password', 'passwd', 'secret', 'token', 'apikey', 'privatekey'];
/** PCI DSS cardholder data and sensitive authentication data names. */
const BUILTIN_CARDHOLDER_NAMES = [
  'cardnumber',
  'pan',
  'creditcard',
  'creditcardnumber',
  'ccnumber',
  'ccnum',
  'cvv',
  'cvv2',
  'cvc',
  'cvc2',
  'cid',
  'cardverificationcode',
  'track1',
  'track2',
  'trackdata',
  'expirydate',
  'cardexpiry',
];

/** Most restrictive wins when several rules match one field. */
const RANK: Readonly<Record<DataClassification, number>> = {
  personal: 1,
  sensitive: 2,
  phi: 3,
  cardholder: 4,
  secret: 5,
};
const CLASSES = new Set(Object.keys(RANK));

/** `classifyName`'s remembered "no rule matches". */
const NO_CLASS = 'none';
const NAME_VERDICTS_MAX = 4096;

const normalizeName = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** 13-19 digits, optionally grouped by single spaces or dashes (how PANs are typed). */
const PAN_CANDIDATE = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;

/**
 * Lengths of the hex digests Bulwark and common tools write (MD5 / 128-bit ids, SHA-1, SHA-256,
 * SHA-512): only a token of exactly one of these lengths is exempt, not any long hex string.
 */
const DIGEST_HEX_LENGTHS: ReadonlySet<number> = new Set([32, 40, 64, 128]);
const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/**
 * Whether the digits at [start, end) sit inside a hex digest (a hash or hex id): about one
 * SHA-256 hex digest in a hundred holds a Luhn-valid run of 13+ digits, which is not a card number.
 * A run glued to other letters (`PAN4111...`, `card4111...`) is still a candidate.
 */
function insideHexToken(value: string, start: number, end: number): boolean {
  let from = start;
  let to = end;
  while (from > 0 && isAlnum(value.charCodeAt(from - 1))) from--;
  while (to < value.length && isAlnum(value.charCodeAt(to))) to++;
  if (!DIGEST_HEX_LENGTHS.has(to - from) || (from === start && to === end)) return false;
  for (let i = from; i < to; i++) if (!isHex(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether `value` holds at least 13 ASCII digits, which every PAN candidate does: most strings in
 * an event (routes, ids, user agents) have fewer, and are decided without the regex's iterator.
 */
function hasPanDigits(value: string): boolean {
  let digits = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits === 13) return true;
  }
  return false;
}

function containsCardNumber(value: string): boolean {
  if (value.length < 13 || !hasPanDigits(value)) return false;
  for (const match of value.matchAll(PAN_CANDIDATE)) {
    if (!luhnValid(match[0].replace(/[ -]/g, ''))) continue;
    if (insideHexToken(value, match.index, match.index + match[0].length)) continue;
    return true;
  }
  return false;
}

/**
 * Removes classified and credential-like values from event details before they are hashed or
 * stored: once hashed into the chain a value cannot be removed without a visible redaction, so
 * personal data must never get that far (GDPR Art. 5(1)(c) data minimisation, PCI DSS 3.3/3.4,
 * HIPAA minimum necessary).
 */
export class Redactor {
  private readonly byName = new Map<string, DataClassification>();
  private readonly nameVerdicts = new Map<string, DataClassification | typeof NO_CLASS>();
  private readonly byPath: { segments: string[]; cls: DataClassification }[] = [];
  private readonly suffixes: readonly string[];
  /**
   * HMAC-SHA256 with the pseudonymisation key, its padded blocks prepared once (a createHmac per
   * marker cost more); the key itself is not kept.
   */
  readonly #pseudoMac?: PrecomputedHmac;
  private readonly pseudoClasses: ReadonlySet<DataClassification>;
  private readonly detectCards: boolean;
  private readonly ownedPath: string[] = [];

  constructor(options: RedactorOptions = {}) {
    const root = typeof options.configPath === 'string' ? options.configPath : 'redactor';
    const config = (path: string, message: string): BulwarkConfigError =>
      configError(`${root}.${path}`, message);
    for (const name of BUILTIN_CARDHOLDER_NAMES) this.byName.set(name, 'cardholder');
    for (const name of BUILTIN_SECRET_NAMES) this.byName.set(name, 'secret');
    for (const name of options.secretNames ?? []) {
      if (typeof name !== 'string' || normalizeName(name) === '')
        throw config('secretNames', 'must be non-empty strings');
      this.byName.set(normalizeName(name), 'secret');
    }
    for (const [key, cls] of Object.entries(options.classification ?? {})) {
      if (!CLASSES.has(cls))
        throw config(`classification.${key}`, `must be one of ${[...CLASSES].join(', ')}`);
      if (key.includes('.')) {
        const segments = key.split('.').map((s) => (s === '*' ? s : normalizeName(s)));
        if (segments.some((s) => s === ''))
          throw config(`classification.${key}`, 'has an empty path segment');
        this.byPath.push({ segments, cls });
      } else {
        const name = normalizeName(key);
        if (name === '') throw config(`classification.${key}`, 'is not a usable field name');
        const prev = this.byName.get(name);
        if (prev === undefined || RANK[cls] > RANK[prev]) this.byName.set(name, cls);
      }
    }
    this.suffixes = SECRET_SUFFIXES;
    if (options.pseudonymize !== undefined) {
      const key = options.pseudonymize.key;
      if (!(key instanceof Uint8Array) || key.length < 32) {
        throw config('pseudonymize.key', 'must be a Uint8Array of at least 32 bytes');
      }
      this.#pseudoMac = precomputedHmac('sha256', key);
      const classes = options.pseudonymize.classes ?? ['personal', 'sensitive', 'phi', 'cardholder'];
      for (const c of classes) {
        if (!CLASSES.has(c) || c === ('secret' as DataClassification)) {
          throw config('pseudonymize.classes', 'may list personal, sensitive, phi, cardholder');
        }
      }
      this.pseudoClasses = new Set(classes);
    } else {
      this.pseudoClasses = new Set();
    }
    this.detectCards = options.detectCardNumbers ?? true;
  }

  /** Classification of the field at `path` (field names from the details root), if any rule matches. */
  classify(path: readonly string[]): DataClassification | undefined {
    if (path.length === 0) return undefined;
    let best = this.classifyName(path[path.length - 1]!);
    for (const rule of this.byPath) {
      if (rule.segments.length !== path.length) continue;
      let ok = true;
      for (let i = 0; i < path.length && ok; i++) {
        ok = rule.segments[i] === '*' || rule.segments[i] === normalizeName(path[i]!);
      }
      if (ok && (best === undefined || RANK[rule.cls] > RANK[best])) best = rule.cls;
    }
    return best;
  }

  /**
   * The name rules' verdict on a field name (built-in and configured names, secret suffixes).
   * Remembered per raw name, since the same few field names recur in every event; the rules are
   * fixed at construction, so a remembered verdict never goes stale. Bounded: names are caller
   * data.
   */
  private classifyName(name: string): DataClassification | undefined {
    const known = this.nameVerdicts.get(name);
    if (known !== undefined) return known === NO_CLASS ? undefined : known;
    const last = normalizeName(name);
    let best = this.byName.get(last);
    if (best !== 'secret' && this.suffixes.some((s) => last.endsWith(s))) best = 'secret';
    if (this.nameVerdicts.size < NAME_VERDICTS_MAX) this.nameVerdicts.set(name, best ?? NO_CLASS);
    return best;
  }

  /** A redacted copy of `details` (the input is not modified). */
  redact(details: AuditDetails): AuditDetails {
    return this.walk(details, []) as AuditDetails;
  }

  /**
   * `redact` for details the caller owns and has just built (AuditLog's validated clone): the
   * redacted values are replaced in place instead of copying every object and array a second
   * time. Same result as `redact` (same values, same member order), returned for convenience.
   * @internal
   */
  redactOwned(details: AuditDetails): AuditDetails {
    // A subclass that changes how details are walked keeps its own (copying) redact().
    if (this.redact !== Redactor.prototype.redact || this.walk !== Redactor.prototype.walk) {
      return this.redact(details);
    }
    // One path list for every owned walk: nothing in it runs caller code that could re-enter.
    const path = this.ownedPath;
    path.length = 0;
    this.walkInPlace(details, path);
    return details;
  }

  /** `walk`, replacing in place: each container's members are assigned back under their own key. */
  private walkInPlace(container: { [key: string]: AuditJsonValue } | AuditJsonValue[], path: string[]): void {
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const v = container[i]!;
        if (v !== null && typeof v === 'object') this.walkInPlace(v, path);
        else if (typeof v === 'string' || typeof v === 'number') container[i] = this.walk(v, path);
      }
      return;
    }
    for (const key of Object.keys(container)) {
      const v = container[key]!;
      path.push(key);
      const cls = this.classify(path);
      if (cls !== undefined) container[key] = this.marker(cls, v);
      else if (v !== null && typeof v === 'object') this.walkInPlace(v, path);
      else if (typeof v === 'string' || typeof v === 'number') container[key] = this.walk(v, path);
      path.pop();
    }
  }

  private walk(value: AuditJsonValue, path: string[]): AuditJsonValue {
    if (typeof value === 'string') {
      return this.detectCards && containsCardNumber(value) ? this.marker('cardholder', value) : value;
    }
    if (typeof value === 'number') {
      // A PAN sent as a JSON number is still a PAN.
      return this.detectCards && Number.isInteger(value) && value >= 1e12 && luhnValid(String(value))
        ? this.marker('cardholder', value)
        : value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, path));
    const out: { [key: string]: AuditJsonValue } = {};
    for (const key of Object.keys(value)) {
      const v = value[key]!;
      path.push(key);
      const cls = this.classify(path);
      out[key] = cls === undefined ? this.walk(v, path) : this.marker(cls, v);
      path.pop();
    }
    return out;
  }

  private marker(cls: DataClassification, value: AuditJsonValue): string {
    if (this.#pseudoMac === undefined || !this.pseudoClasses.has(cls)) return `[REDACTED:${cls}]`;
    const mac = this.#pseudoMac.bytes(Buffer.from(canonicalize(value), 'utf8'));
    return `[REDACTED:${cls}:h:${mac.subarray(0, 16).toString('base64url')}]`;
  }
}
