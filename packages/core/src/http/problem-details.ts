import { STATUS_CODES } from 'node:http';
import { BulwarkError, ErrorCodes } from '../errors';
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
}

export interface ProblemContext {
  requestId?: string;
  /** RFC 9457 §3.1.5: a URI reference identifying this occurrence (e.g. `urn:uuid:<request id>`). */
  instance?: string;
  /** Realm of the WWW-Authenticate challenge on 401. Default `bulwark`. */
  realm?: string;
}

interface Mapping {
  status: number;
  title: string;
  /** Fixed, safe detail; when absent the error's own message is used (Bulwark messages never hold secrets). */
  detail?: string;
}

const TOKEN: Mapping = { status: 401, title: 'Invalid token', detail: 'The access token is invalid.' };
const INTERNAL: Mapping = {
  status: 500,
  title: 'Internal Server Error',
  detail: 'The server could not complete the request.',
};

/**
 * Error code -> HTTP status. Token failures all answer the same detail (which check failed is
 * logged, not told to a caller probing tokens); configuration, crypto and audit failures are 500
 * without their message (those messages name internals: key ids, store paths, field paths).
 */
const BY_CODE: Readonly<Record<string, Mapping>> = {
  [ErrorCodes.TOKEN_MALFORMED]: TOKEN,
  [ErrorCodes.TOKEN_EXPIRED]: { ...TOKEN, detail: 'The access token has expired.' },
  [ErrorCodes.TOKEN_NOT_YET_VALID]: TOKEN,
  [ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED]: TOKEN,
  [ErrorCodes.TOKEN_SIGNATURE_INVALID]: TOKEN,
  [ErrorCodes.TOKEN_CLAIM_INVALID]: TOKEN,
  [ErrorCodes.TOKEN_KEY_NOT_FOUND]: TOKEN,
  [ErrorCodes.TOKEN_JWKS_UNAVAILABLE]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The token keys cannot be fetched right now; retry later.',
  },
  [ErrorCodes.HTTP_AUTH_REQUIRED]: {
    status: 401,
    title: 'Authentication required',
    detail: 'This resource needs a bearer token.',
  },
  [ErrorCodes.MFA_INVALID_CODE]: { status: 401, title: 'Invalid code', detail: 'The code is not valid.' },
  [ErrorCodes.MFA_REPLAY]: { status: 401, title: 'Invalid code', detail: 'The code is not valid.' },
  [ErrorCodes.MFA_RECOVERY_CODE_USED]: {
    status: 401,
    title: 'Invalid code',
    detail: 'The code is not valid.',
  },
  [ErrorCodes.MFA_NOT_ENROLLED]: { status: 403, title: 'MFA not enrolled' },
  [ErrorCodes.MFA_LOCKED]: { status: 429, title: 'Too Many Requests', detail: 'Too many failed codes.' },
  [ErrorCodes.POLICY_DENIED]: {
    status: 403,
    title: 'Forbidden',
    detail: 'You are not allowed to perform this action.',
  },
  [ErrorCodes.CSRF_INVALID]: {
    status: 403,
    title: 'Invalid CSRF token',
    detail: 'The CSRF token is missing or invalid; reload the page and retry.',
  },
  [ErrorCodes.CONSENT_REQUIRED]: {
    status: 403,
    title: 'Consent required',
    detail: 'This action needs the consent of the data subject to the current text of the purpose.',
  },
  [ErrorCodes.CONSENT_UNKNOWN_PURPOSE]: {
    status: 404,
    title: 'Unknown consent purpose',
    detail: 'No consent purpose has this id.',
  },
  [ErrorCodes.CONSENT_UNKNOWN_VERSION]: { status: 422, title: 'Unknown consent text version' },
  [ErrorCodes.CONSENT_INVALID_ARGUMENT]: { status: 400, title: 'Bad Request' },
  [ErrorCodes.PRIVACY_INVALID_ARGUMENT]: { status: 400, title: 'Bad Request' },
  [ErrorCodes.PRIVACY_NOT_FOUND]: { status: 404, title: 'Not Found', detail: 'No such request.' },
  [ErrorCodes.PRIVACY_DUPLICATE_ID]: { status: 409, title: 'Conflict' },
  [ErrorCodes.DSR_INVALID_TRANSITION]: { status: 409, title: 'Conflict' },
  [ErrorCodes.DSR_IDENTITY_NOT_VERIFIED]: { status: 403, title: 'Identity not verified' },
  [ErrorCodes.DSR_UNSUPPORTED]: { status: 422, title: 'Unsupported request' },
  [ErrorCodes.THREAT_INVALID_ARGUMENT]: {
    status: 400,
    title: 'Bad Request',
    detail: 'The request is invalid.',
  },
  [ErrorCodes.THREAT_STORE]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The login service is unavailable; retry later.',
  },
  [ErrorCodes.HTTP_TOO_MANY_REQUESTS]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many failed attempts; retry later.',
  },
  [ErrorCodes.HTTP_BODY_TOO_LARGE]: { status: 413, title: 'Content Too Large' },
  [ErrorCodes.HTTP_HEADERS_TOO_LARGE]: { status: 431, title: 'Request Header Fields Too Large' },
  [ErrorCodes.HTTP_BAD_REQUEST]: { status: 400, title: 'Bad Request' },
  [ErrorCodes.HTTP_MALFORMED_BODY]: { status: 400, title: 'Malformed body' },
  [ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE]: { status: 415, title: 'Unsupported Media Type' },
  [ErrorCodes.HTTP_INPUT_TOO_DEEP]: { status: 422, title: 'Input nested too deeply' },
  [ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY]: { status: 400, title: 'Forbidden input key' },
  [ErrorCodes.HTTP_INPUT_NUL_BYTE]: { status: 400, title: 'NUL byte in input' },
  [ErrorCodes.HTTP_PATH_TRAVERSAL]: { status: 400, title: 'Path traversal' },
  [ErrorCodes.HTTP_NOT_FOUND]: { status: 404, title: 'Not Found', detail: 'No resource at this URL.' },
};

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

function challenge(realm: string, error?: string): string {
  // RFC 6750 §3: no error attribute when the request carried no credentials at all.
  return error === undefined ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${error}"`;
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

  if (error instanceof BulwarkError) {
    code = error.code;
    details = error.details;
    const known = BY_CODE[error.code];
    if (known !== undefined) mapping = known;
    else if (error instanceof BulwarkHttpError && error.status < 500)
      mapping = { status: error.status, title: statusTitle(error.status) };
    else mapping = INTERNAL;
    if (mapping.status >= 500) {
      detail = mapping.detail ?? INTERNAL.detail!;
      details = undefined;
      if (mapping === INTERNAL) code = undefined;
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
          ? problemType('internal')
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
    }
  }
  // The stable code lets clients branch (csurf-style `code === 'EBADCSRFTOKEN'`) without parsing `type`.
  if (code !== undefined) body.code = code;

  const realm = context.realm ?? 'bulwark';
  if (mapping.status === 401) {
    headers['www-authenticate'] =
      code === ErrorCodes.HTTP_AUTH_REQUIRED ? challenge(realm) : challenge(realm, 'invalid_token');
  }
  if (mapping.status === 429 || mapping.status === 503) {
    const retry = details?.retryAfterSec;
    if (typeof retry === 'number' && Number.isFinite(retry) && retry >= 0) {
      headers['retry-after'] = String(Math.ceil(retry));
    }
  }
  return { status: mapping.status, headers, body };
}
