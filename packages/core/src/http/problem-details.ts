import { STATUS_CODES, type ServerResponse } from 'node:http';
import { copyDenialExplanation } from './denial-details';
import { BulwarkError, BulwarkTokenError, ErrorCodes, type ErrorCode } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';

/** RFC 9457 §3: the media type of a problem details body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Stable problem type URIs are `${PROBLEM_TYPE_BASE}<slug>`; the slug is derived from the error code. */
export const PROBLEM_TYPE_BASE = 'https://bulwark.dev/problems/';

/** RFC 9457 problem details object, plus the request id (an extension member). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  /** Extension members taken from an allow-list of safe error details (reasonId, purposeId...). */
  [extension: string]: unknown;
}

/** What an adapter writes: status, extra headers, and the body (serialise with JSON.stringify). */
export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: ProblemDetails;
  /**
   * For the audit event and logs only, never the response: the error's own code, which can be
   * more precise than `body.code` (`ERR_TOKEN_SIGNATURE_INVALID` behind `ERR_TOKEN_INVALID`) or
   * absent from the body (a 500 tells the client nothing).
   */
  errorCode?: string;
  /** For the audit event and logs only: what exactly failed, when the code does not say (`aud.check_failed`). */
  errorReason?: string;
}

export interface ProblemContext {
  requestId?: string;
  /** RFC 9457 §3.1.5: a URI reference identifying this occurrence (e.g. `urn:uuid:<request id>`). */
  instance?: string;
  /** Realm of the WWW-Authenticate challenge on 401. Default `bulwark`. */
  realm?: string;
  /**
   * Auth scheme the WWW-Authenticate challenge names: the first of the authenticator's `schemes`
   * (`BearerAuthenticator.challengeScheme`). Default `Bearer`.
   */
  scheme?: string;
}

interface Mapping {
  status: number;
  title: string;
  /** Fixed, safe detail; when absent the error's own message is used (Bulwark messages never hold secrets). */
  detail?: string;
  /**
   * The code clients see (in `type` and `code`) when it is not the error's own: one code for a
   * family whose members must not be told apart (invalid tokens), or `null` for a server-side
   * failure, which is not described at all. The error's own code still reaches the audit event.
   */
  publicCode?: ErrorCode | null;
}

/**
 * Every invalid token answers the same: which check failed (signature, algorithm, issuer,
 * audience, not-yet-valid, malformed, unknown key) would tell a forger how far the forgery got.
 * Expired tokens are the exception, because clients must know to refresh.
 */
const TOKEN: Mapping = {
  status: 401,
  title: 'Invalid token',
  detail: 'The access token is invalid.',
  publicCode: ErrorCodes.TOKEN_INVALID,
};
const INTERNAL: Mapping = {
  status: 500,
  title: 'Internal Server Error',
  detail: 'The server could not complete the request.',
  publicCode: null,
};
/** A dependency is down, locked or shutting down: clients may retry; what is down is not told. */
const UNAVAILABLE: Mapping = {
  status: 503,
  title: 'Service Unavailable',
  detail: 'The service is unavailable right now; retry later.',
  publicCode: null,
};
const BAD_REQUEST: Mapping = { status: 400, title: 'Bad Request' };
const CONFLICT: Mapping = { status: 409, title: 'Conflict' };
const LEGAL_HOLD: Mapping = {
  status: 409,
  title: 'Conflict',
  detail: 'A legal hold prevents this operation.',
};
/** Wrong, replayed and used-up codes answer the same: "already used" would confirm a guess. */
const INVALID_CODE: Mapping = {
  status: 401,
  title: 'Invalid code',
  detail: 'The code is not valid.',
  publicCode: ErrorCodes.MFA_INVALID_CODE,
};

/** Every refused WebAuthn response answers the same (which check failed is not told). */
const WEBAUTHN_INVALID: Mapping = {
  status: 401,
  title: 'Invalid authenticator response',
  detail: 'The authenticator response is not valid.',
  publicCode: ErrorCodes.MFA_WEBAUTHN_INVALID,
};

/**
 * Error code -> HTTP answer, one entry per code: `satisfies Record<ErrorCode, Mapping>` makes a
 * new code without a deliberate mapping a build error. Codes a client can cause (bad input, bad
 * credentials, refused access, conflicts with the current state) are 4xx; failures of the server
 * or its configuration are INTERNAL (500) or UNAVAILABLE (503) with a generic body, because their
 * messages name internals (key ids, store paths, field paths).
 */
const BY_CODE = {
  // crypto: envelopes, keys and key stores are server-side state
  [ErrorCodes.CRYPTO_MALFORMED]: INTERNAL,
  [ErrorCodes.CRYPTO_UNSUPPORTED_VERSION]: INTERNAL,
  [ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM]: INTERNAL,
  [ErrorCodes.CRYPTO_DECRYPTION_FAILED]: INTERNAL,
  [ErrorCodes.CRYPTO_UNKNOWN_KEY]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_RETIRED]: INTERNAL,
  [ErrorCodes.CRYPTO_SUBJECT_SHREDDED]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_PROVIDER]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_STORE]: INTERNAL,
  [ErrorCodes.CRYPTO_INVALID_ARGUMENT]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_EXISTS]: INTERNAL,
  [ErrorCodes.CRYPTO_SUBJECT_KEY_NOT_LOADED]: INTERNAL,
  [ErrorCodes.CRYPTO_REWRAP_WRITE_FAILED]: INTERNAL,
  [ErrorCodes.CRYPTO_CLOSED]: UNAVAILABLE,
  [ErrorCodes.PASSWORD_INVALID_HASH]: INTERNAL,
  // tokens
  [ErrorCodes.TOKEN_MALFORMED]: TOKEN,
  [ErrorCodes.TOKEN_EXPIRED]: {
    status: 401,
    title: 'Invalid token',
    detail: 'The access token has expired.',
  },
  [ErrorCodes.TOKEN_NOT_YET_VALID]: TOKEN,
  [ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED]: TOKEN,
  [ErrorCodes.TOKEN_SIGNATURE_INVALID]: TOKEN,
  [ErrorCodes.TOKEN_CLAIM_INVALID]: TOKEN,
  [ErrorCodes.TOKEN_KEY_NOT_FOUND]: TOKEN,
  [ErrorCodes.TOKEN_INVALID]: TOKEN,
  // A revoked token answers like any invalid one; the audit event keeps ERR_TOKEN_REVOKED.
  [ErrorCodes.TOKEN_REVOKED]: TOKEN,
  [ErrorCodes.TOKEN_REVOCATION_STORE]: UNAVAILABLE,
  [ErrorCodes.TOKEN_JWKS_UNAVAILABLE]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The token keys cannot be fetched right now; retry later.',
  },
  [ErrorCodes.CONFIG_INVALID]: INTERNAL,
  [ErrorCodes.CONFIG_NOT_PRODUCTION_READY]: INTERNAL,
  // audit
  [ErrorCodes.AUDIT_INVALID_EVENT]: INTERNAL,
  [ErrorCodes.AUDIT_CHAIN_BROKEN]: INTERNAL,
  [ErrorCodes.AUDIT_PROOF_INVALID]: INTERNAL,
  [ErrorCodes.AUDIT_CHECKPOINT_INVALID]: INTERNAL,
  [ErrorCodes.AUDIT_STORE]: INTERNAL,
  [ErrorCodes.AUDIT_LEGAL_HOLD]: LEGAL_HOLD,
  [ErrorCodes.AUDIT_CLOSED]: UNAVAILABLE,
  // Messages name the field and the rule, never the value: "audit query cursor is not a cursor from a previous page".
  [ErrorCodes.AUDIT_INVALID_QUERY]: { status: 400, title: 'Invalid audit query' },
  [ErrorCodes.AUDIT_STORE_LOCKED]: UNAVAILABLE,
  [ErrorCodes.AUDIT_TORN_TAIL]: INTERNAL,
  // e.g. a proof for an index or tree size the log does not have
  [ErrorCodes.AUDIT_INVALID_ARGUMENT]: { ...BAD_REQUEST, detail: 'The audit request is not valid.' },
  [ErrorCodes.AUDIT_SINK]: INTERNAL,
  [ErrorCodes.AUDIT_READ_ONLY]: INTERNAL,
  [ErrorCodes.AUDIT_STORE_UNAVAILABLE]: UNAVAILABLE,
  [ErrorCodes.AUDIT_OUTCOME_UNKNOWN]: UNAVAILABLE,
  // The request was fine and may be retried; what failed is the server's audit trail, and the
  // response (which may hold classified data) was withheld rather than served unrecorded.
  [ErrorCodes.AUDIT_UNAVAILABLE]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The request could not be recorded in the audit trail, so it was not served; retry later.',
  },
  [ErrorCodes.AUDIT_NO_SPACE]: INTERNAL,
  // authz
  [ErrorCodes.POLICY_INVALID]: INTERNAL,
  [ErrorCodes.POLICY_DENIED]: {
    status: 403,
    title: 'Forbidden',
    detail: 'You are not allowed to perform this action.',
  },
  [ErrorCodes.POLICY_BREAK_GLASS_INVALID]: BAD_REQUEST,
  [ErrorCodes.POLICY_BREAK_GLASS_NOT_FOUND]: {
    status: 404,
    title: 'Not Found',
    detail: 'No such break-glass grant.',
  },
  [ErrorCodes.POLICY_AUDIT_FAILED]: UNAVAILABLE,
  [ErrorCodes.POLICY_BREAK_GLASS_STORE]: UNAVAILABLE,
  [ErrorCodes.POLICY_UNTRANSLATABLE]: INTERNAL,
  // mfa: every wrong code answers the same
  [ErrorCodes.MFA_INVALID_CODE]: INVALID_CODE,
  [ErrorCodes.MFA_REPLAY]: INVALID_CODE,
  [ErrorCodes.MFA_RECOVERY_CODE_USED]: INVALID_CODE,
  [ErrorCodes.MFA_NOT_ENROLLED]: { status: 403, title: 'MFA not enrolled' },
  [ErrorCodes.MFA_ALREADY_ENROLLED]: { ...CONFLICT, detail: 'A second factor is already enrolled.' },
  [ErrorCodes.MFA_LOCKED]: { status: 429, title: 'Too Many Requests', detail: 'Too many failed codes.' },
  [ErrorCodes.MFA_STORE]: UNAVAILABLE,
  [ErrorCodes.MFA_INVALID_ARGUMENT]: { ...BAD_REQUEST, detail: 'The request is invalid.' },
  // threat
  [ErrorCodes.THREAT_INVALID_ARGUMENT]: { ...BAD_REQUEST, detail: 'The request is invalid.' },
  [ErrorCodes.THREAT_STORE]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The login service is unavailable; retry later.',
  },
  // consent
  [ErrorCodes.CONSENT_UNKNOWN_PURPOSE]: {
    status: 404,
    title: 'Unknown consent purpose',
    detail: 'No consent purpose has this id.',
  },
  [ErrorCodes.CONSENT_REQUIRED]: {
    status: 403,
    title: 'Consent required',
    detail: 'This action needs the consent of the data subject to the current text of the purpose.',
  },
  [ErrorCodes.CONSENT_UNKNOWN_VERSION]: { status: 422, title: 'Unknown consent text version' },
  [ErrorCodes.CONSENT_VERSION_CONFLICT]: INTERNAL,
  [ErrorCodes.CONSENT_INVALID_ARGUMENT]: BAD_REQUEST,
  [ErrorCodes.CONSENT_STORE]: UNAVAILABLE,
  // privacy
  [ErrorCodes.PRIVACY_INVALID_ARGUMENT]: BAD_REQUEST,
  [ErrorCodes.PRIVACY_DUPLICATE_ID]: CONFLICT,
  [ErrorCodes.PRIVACY_NOT_FOUND]: { status: 404, title: 'Not Found', detail: 'No such request.' },
  [ErrorCodes.PRIVACY_CONFLICT]: { ...CONFLICT, detail: 'The record changed concurrently; retry.' },
  [ErrorCodes.PRIVACY_STORE]: UNAVAILABLE,
  [ErrorCodes.DSR_INVALID_TRANSITION]: CONFLICT,
  [ErrorCodes.DSR_IDENTITY_NOT_VERIFIED]: { status: 403, title: 'Identity not verified' },
  [ErrorCodes.DSR_EXTENSION_INVALID]: { status: 422, title: 'Invalid deadline extension' },
  [ErrorCodes.DSR_SOURCE_FAILED]: INTERNAL,
  [ErrorCodes.DSR_UNSUPPORTED]: { status: 422, title: 'Unsupported request' },
  [ErrorCodes.DSR_RECEIPT_INVALID]: {
    ...BAD_REQUEST,
    detail: 'The erasure receipt is not valid.',
  },
  [ErrorCodes.RETENTION_LEGAL_HOLD]: LEGAL_HOLD,
  [ErrorCodes.RETENTION_PURGE_FAILED]: INTERNAL,
  // http adapters
  [ErrorCodes.CSRF_INVALID]: {
    status: 403,
    title: 'Invalid CSRF token',
    detail: 'The CSRF token is missing or invalid; reload the page and retry.',
  },
  [ErrorCodes.HTTP_AUTH_REQUIRED]: {
    status: 401,
    title: 'Authentication required',
    detail: 'This resource needs a bearer token.',
  },
  [ErrorCodes.HTTP_AUTH_MALFORMED]: {
    status: 400,
    title: 'Malformed credentials',
    detail: 'The Authorization header is not a valid token credential.',
  },
  [ErrorCodes.HTTP_BODY_TOO_LARGE]: { status: 413, title: 'Content Too Large' },
  [ErrorCodes.HTTP_MALFORMED_BODY]: { status: 400, title: 'Malformed body' },
  [ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE]: { status: 415, title: 'Unsupported Media Type' },
  [ErrorCodes.HTTP_INPUT_TOO_DEEP]: { status: 422, title: 'Input nested too deeply' },
  [ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY]: { status: 400, title: 'Forbidden input key' },
  [ErrorCodes.HTTP_INPUT_NUL_BYTE]: { status: 400, title: 'NUL byte in input' },
  [ErrorCodes.HTTP_PATH_TRAVERSAL]: { status: 400, title: 'Path traversal' },
  [ErrorCodes.HTTP_TOO_MANY_REQUESTS]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many failed attempts; retry later.',
  },
  [ErrorCodes.HTTP_NOT_FOUND]: { status: 404, title: 'Not Found', detail: 'No resource at this URL.' },
  [ErrorCodes.HTTP_HEADERS_TOO_LARGE]: { status: 431, title: 'Request Header Fields Too Large' },
  [ErrorCodes.HTTP_BAD_REQUEST]: { status: 400, title: 'Bad Request' },
  [ErrorCodes.HTTP_UNKNOWN_FIELD]: { status: 400, title: 'Unknown field' },
  [ErrorCodes.HTTP_RATE_LIMITED]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many requests; retry later.',
  },
  [ErrorCodes.HTTP_CORS_REFUSED]: {
    status: 403,
    title: 'Cross-origin request refused',
    detail: 'This origin, method or header is not allowed to call this API cross-origin.',
  },
  [ErrorCodes.HTTP_CROSS_SITE_REFUSED]: {
    status: 403,
    title: 'Cross-site request refused',
    detail: 'Cross-site requests to this resource are not allowed.',
  },
  [ErrorCodes.HTTP_DUPLICATE_PARAMETER]: { status: 400, title: 'Duplicate parameter' },
  // Stored data that fails its integrity check (a subject-keyed value moved into another subject's
  // record): the request was fine, the data is not, hence 5xx. The code is kept, so the audit
  // event and the client can tell an integrity failure from a crash; nothing of the value, or of
  // whose it is, is told.
  [ErrorCodes.CRYPTO_SUBJECT_MISMATCH]: {
    status: 500,
    title: 'Stored data failed an integrity check',
    detail: 'A stored value failed its integrity check and was not returned.',
  },
  [ErrorCodes.CRYPTO_KEY_FILE_INSECURE]: INTERNAL,
  [ErrorCodes.CRYPTO_KEY_EXPIRED]: INTERNAL,
  [ErrorCodes.CRYPTO_WEAK_PARAMETERS]: INTERNAL,
  [ErrorCodes.COMPLIANCE_SNAPSHOT_INVALID]: { ...BAD_REQUEST, detail: 'The evidence snapshot is not valid.' },
  [ErrorCodes.COMPLIANCE_SNAPSHOT_STALE]: { ...BAD_REQUEST, detail: 'The evidence snapshot is too old.' },
  [ErrorCodes.COMPLIANCE_ATTESTATION_STORE]: INTERNAL,
  [ErrorCodes.COMPLIANCE_REPORT_SIGNATURE_INVALID]: {
    ...BAD_REQUEST,
    detail: 'The compliance report signature is not valid.',
  },
  [ErrorCodes.SIGNIN_NOT_PROVISIONED]: {
    status: 403,
    title: 'Forbidden',
    detail: 'Your sign-in was accepted, but this application has no account for you.',
  },
  [ErrorCodes.SIGNIN_FAILED]: { status: 401, title: 'Unauthorized', detail: 'Sign-in failed.' },
  // crypto: HSM / cloud KMS master keys (server-side state; a KMS outage is retryable)
  [ErrorCodes.CRYPTO_KMS_UNAVAILABLE]: UNAVAILABLE,
  [ErrorCodes.CRYPTO_KMS_ACCESS_DENIED]: INTERNAL,
  [ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE]: INTERNAL,
  [ErrorCodes.SIGNIN_UNAVAILABLE]: UNAVAILABLE,
  // A cloned-authenticator refusal answers like any other bad response; the audit event has the code.
  [ErrorCodes.MFA_WEBAUTHN_INVALID]: WEBAUTHN_INVALID,
  [ErrorCodes.MFA_WEBAUTHN_COUNTER]: WEBAUTHN_INVALID,
  [ErrorCodes.MFA_DELIVERY]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The code could not be sent right now; retry later.',
  },
  [ErrorCodes.MFA_STEP_UP_REQUIRED]: {
    status: 401,
    title: 'Step-up authentication required',
    detail: 'This action needs a stronger or more recent authentication; authenticate again and retry.',
  },
  [ErrorCodes.SESSION_STORE]: UNAVAILABLE,
  [ErrorCodes.SESSION_REVOKED]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'Your session ended; sign in again.',
  },
  [ErrorCodes.SESSION_INVALID_ARGUMENT]: BAD_REQUEST,
  [ErrorCodes.ACCOUNT_DISABLED]: { status: 403, title: 'Forbidden', detail: 'This account is disabled.' },
  [ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID]: {
    ...BAD_REQUEST,
    detail: 'The password reset link is invalid or has expired; ask for a new one.',
  },
  [ErrorCodes.ACCOUNT_STORE]: UNAVAILABLE,
  [ErrorCodes.ACCOUNT_INVALID_ARGUMENT]: BAD_REQUEST,
  [ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID]: {
    status: 403,
    title: 'Forbidden',
    detail: 'The current password is wrong.',
  },
  [ErrorCodes.ACCOUNT_LOCKED]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many wrong passwords; retry later.',
  },
  [ErrorCodes.PASSWORD_POLICY]: {
    status: 422,
    title: 'Password refused',
    detail: 'The password does not meet the password policy; see reasons.',
  },
  // alerts
  [ErrorCodes.ALERT_WEBHOOK_INVALID]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'The webhook signature is invalid.',
  },
  [ErrorCodes.ALERT_DELIVERY_FAILED]: UNAVAILABLE,
} satisfies Record<ErrorCode, Mapping>;

/**
 * Lookup by any string: codes of applications, other libraries and Bulwark's adapter packages (which
 * declare their own, e.g. ERR_TYPEORM_*) are not in the table, and answer as problemFor says.
 */
const MAPPINGS: Readonly<Partial<Record<string, Mapping>>> = BY_CODE;

/**
 * The HTTP status Bulwark answers for an error code, or undefined for a code that is not
 * Bulwark's (an application's `BulwarkHttpError` then keeps its own 4xx status; anything else is 500).
 */
export function problemStatus(code: string): number | undefined {
  return Object.hasOwn(MAPPINGS, code) ? MAPPINGS[code]!.status : undefined;
}

/** Error details safe to echo as extension members (ids and numbers, never values or secrets). */
const SAFE_DETAILS = [
  'reasonId',
  'purposeId',
  'state',
  'needsRenewal',
  'retryAfterSec',
  'location',
  'limit',
  'challenge',
  'maxAgeSec',
  'requiredFactors',
  'reasons',
];

/** Fixed details for the body-parser / co-body error types (their messages can quote the body). */
const PARSER_TYPES: Readonly<Record<string, string>> = {
  'entity.parse.failed': 'The request body is not valid.',
  'entity.too.large': 'The request body is too large.',
  'entity.verify.failed': 'The request body failed verification.',
  'encoding.unsupported': 'The request body encoding is not supported.',
  'charset.unsupported': 'The request body charset is not supported.',
  'request.aborted': 'The request was aborted.',
  'request.size.invalid': 'The request body size does not match its Content-Length.',
  'parameters.too.many': 'The request has too many parameters.',
  'stream.encoding.set': 'The request stream could not be read.',
};

/** `ERR_TOKEN_EXPIRED` -> `token-expired`; csurf's `EBADCSRFTOKEN` -> `bad-csrf-token`. */
export function problemSlug(code: string): string {
  if (code === ErrorCodes.CSRF_INVALID) return 'bad-csrf-token';
  return code
    .replace(/^ERR_/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
}

/** The problem type URI of an error code. */
export function problemType(code: string): string {
  return PROBLEM_TYPE_BASE + problemSlug(code);
}

function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function httpErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown };
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599
    ? status
    : undefined;
}

function challenge(realm: string, error?: string, scheme = 'Bearer'): string {
  // RFC 6750 §3: no error attribute when the request carried no credentials at all.
  return error === undefined ? `${scheme} realm="${realm}"` : `${scheme} realm="${realm}", error="${error}"`;
}

/** A scheme is written into the header as is: only an RFC 9110 token is. */
const SCHEME_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * RFC 9470 §3: `insufficient_user_authentication`, with `max_age` when the refusal is about the
 * age of the authentication, so an OAuth client knows to send the user back with `max_age`.
 */
function stepUpChallenge(realm: string, details: Readonly<Record<string, unknown>> | undefined): string {
  const base =
    `${challenge(realm, 'insufficient_user_authentication')}, ` +
    'error_description="A stronger or more recent authentication is required"';
  const maxAge = details?.maxAgeSec;
  return typeof maxAge === 'number' && Number.isSafeInteger(maxAge) && maxAge >= 0
    ? `${base}, max_age="${maxAge}"`
    : base;
}

/**
 * What exactly failed when the code does not say, for the audit event and logs (never the
 * response): the claim of a token error (`aud.check_failed`, `iss.missing`), from jose's fixed
 * claim and reason names as mapJoseError keeps them, or the failed check of a refused sign-in.
 */
export function refusalReason(error: unknown): string | undefined {
  if (!(error instanceof BulwarkError)) return undefined;
  const claim = error.details?.claim;
  const reason = error.details?.reason;
  // A refused sign-in names the check that refused it (`invalid_credentials`, `replayed`...).
  if (error.code === ErrorCodes.SIGNIN_FAILED) return typeof reason === 'string' ? reason : undefined;
  if (typeof claim !== 'string') return undefined;
  return typeof reason === 'string' ? `${claim}.${reason}` : claim;
}

/**
 * Maps any thrown value to an RFC 9457 response. Bulwark errors get their status per code; http-errors
 * style 4xx errors (body-parser, koa's ctx.throw) keep their status with a safe detail; everything
 * else is a 500 whose body says nothing about the cause (no message, no stack).
 */
export function problemFor(error: unknown, context: ProblemContext = {}): ProblemResponse {
  const headers: Record<string, string> = {};
  let code: string | undefined;
  let mapping: Mapping;
  let detail: string;
  let details: Readonly<Record<string, unknown>> | undefined;
  let errorCode: string | undefined;
  let errorReason: string | undefined;

  if (error instanceof BulwarkError) {
    code = errorCode = error.code;
    errorReason = refusalReason(error);
    details = error.details;
    const known = Object.hasOwn(MAPPINGS, error.code) ? MAPPINGS[error.code] : undefined;
    if (known !== undefined) mapping = known;
    else if (error instanceof BulwarkHttpError && error.status < 500)
      mapping = { status: error.status, title: statusTitle(error.status) };
    else mapping = INTERNAL;
    if (mapping.publicCode !== undefined) {
      // A collapsed family answers byte for byte the same: no member's details go out either.
      code = mapping.publicCode ?? undefined;
      details = undefined;
    }
    if (mapping.status >= 500) {
      detail = mapping.detail ?? INTERNAL.detail!;
      details = undefined;
    } else detail = mapping.detail ?? error.message;
  } else {
    const status = httpErrorStatus(error);
    const e = error as { type?: unknown; expose?: unknown; message?: unknown };
    if (status !== undefined && status < 500) {
      mapping = { status, title: statusTitle(status) };
      const parserDetail = typeof e.type === 'string' ? PARSER_TYPES[e.type] : undefined;
      detail =
        parserDetail ??
        (e.expose === true && typeof e.message === 'string' && e.message.length <= 200
          ? e.message
          : statusTitle(status));
    } else {
      mapping = INTERNAL;
      detail = INTERNAL.detail!;
    }
  }

  const body: ProblemDetails = {
    type:
      code !== undefined
        ? problemType(code)
        : mapping.status >= 500
          ? problemType(mapping.status === 503 ? 'unavailable' : 'internal')
          : 'about:blank',
    title: mapping.title,
    status: mapping.status,
    detail,
  };
  if (context.instance !== undefined) body.instance = context.instance;
  if (context.requestId !== undefined) body.requestId = context.requestId;
  if (details !== undefined) {
    for (const key of SAFE_DETAILS) {
      const value = details[key];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        body[key] = value;
      // A list of stable ids (the password policy's reasons), never free text.
      else if (
        Array.isArray(value) &&
        value.every((v) => typeof v === 'string' && /^[a-z0-9-]{1,64}$/.test(v))
      )
        body[key] = [...value];
    }
  }
  // A denial's explanation, put in details only when the route explains denials (development).
  const explanation = details !== undefined ? copyDenialExplanation(details.explanation) : undefined;
  if (explanation !== undefined) body.explanation = explanation;
  // The stable code lets clients branch (csurf-style `code === 'EBADCSRFTOKEN'`) without parsing `type`.
  if (code !== undefined) body.code = code;

  const realm = context.realm ?? 'bulwark';
  const scheme =
    context.scheme !== undefined && SCHEME_TOKEN.test(context.scheme) ? context.scheme : 'Bearer';
  if (mapping.status === 401) {
    // RFC 6750 §3.1: `error="invalid_token"` only when a token was sent and refused (a token error);
    // a 401 with no token involved (failed sign-in, revoked session, the app's own 401) gets the
    // plain challenge RFC 9110 §15.5.2 requires.
    headers['www-authenticate'] =
      code === ErrorCodes.MFA_STEP_UP_REQUIRED
        ? stepUpChallenge(realm, details)
        : error instanceof BulwarkTokenError
          ? challenge(realm, 'invalid_token', scheme)
          : challenge(realm, undefined, scheme);
  } else if (code === ErrorCodes.HTTP_AUTH_MALFORMED) {
    // RFC 6750 §3.1: a malformed request answers 400 with `error="invalid_request"`.
    headers['www-authenticate'] = challenge(realm, 'invalid_request', scheme);
  }
  if (mapping.status === 429 || mapping.status === 503) {
    const retry = details?.retryAfterSec;
    if (typeof retry === 'number' && Number.isFinite(retry) && retry >= 0) {
      headers['retry-after'] = String(Math.ceil(retry));
    }
  }
  return {
    status: mapping.status,
    headers,
    body,
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(errorReason !== undefined ? { errorReason } : {}),
  };
}

/**
 * Writes a problem to a Node response that no framework will answer (a response withheld by the
 * audit hold, a router refusal outside the framework): status, the problem's own headers,
 * problem+json, `no-store` and its length; no body for HEAD.
 */
export function writeNodeProblem(res: ServerResponse, problem: ProblemResponse): void {
  const body = JSON.stringify(problem.body);
  res.statusCode = problem.status;
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}
