import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';

type FastifyErrorShape = { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };

/** Fastify's own refusals (body parser, content type, router) by `err.code`. */
const FASTIFY_CODES: Readonly<Record<string, readonly [code: string, status: number, detail: string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [ErrorCodes.HTTP_BODY_TOO_LARGE, 413, 'The request body is too large.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body media type is not supported.',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    ErrorCodes.HTTP_BAD_REQUEST,
    400,
    'The request body size does not match its Content-Length.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body has no media type.',
  ],
  FST_ERR_CTP_INVALID_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body media type is not valid.',
  ],
  FST_ERR_BAD_URL: [ErrorCodes.HTTP_BAD_REQUEST, 400, 'The request URL is not valid.'],
  FST_ERR_MAX_PARAM_LENGTH: [ErrorCodes.HTTP_BAD_REQUEST, 400, 'A URL parameter is too long.'],
};

/**
 * Bulwark's refusal for an error Fastify raised itself before the handler: its body parser
 * (too large, invalid JSON, unsupported media type, `__proto__` keys refused by secure-json-parse),
 * its router (bad URL, over-long parameter: with `frameworkErrors`) and schema validation; used by
 * @bulwark/fastify and by @bulwark/nestjs on @nestjs/platform-fastify (which wraps the error in an
 * HttpException: pass its `cause`). The parser's message is never used (for invalid JSON it quotes the body,
 * which may be personal data); a validation message is kept when it is short plain ASCII (Ajv's
 * `body/name must be string` names schema paths, not values). `undefined` for anything else.
 */
export function fastifyFrameworkError(error: unknown): BulwarkHttpError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as FastifyErrorShape;
  const status = e.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (e.validation !== undefined || e.code === 'FST_ERR_VALIDATION') {
    const message = typeof e.message === 'string' ? e.message : '';
    const detail =
      message.length > 0 && message.length <= 200 && /^[\x20-\x7e]+$/.test(message)
        ? message
        : 'The request does not match the route schema.';
    return new BulwarkHttpError(
      ErrorCodes.HTTP_BAD_REQUEST,
      400,
      detail,
      { location: 'schema' },
      { cause: error },
    );
  }
  if (typeof e.code === 'string' && Object.hasOwn(FASTIFY_CODES, e.code)) {
    const [code, s, detail] = FASTIFY_CODES[e.code]!;
    const location = e.code === 'FST_ERR_BAD_URL' || e.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'path' : 'body';
    return new BulwarkHttpError(code, s, detail, { location }, { cause: error });
  }
  // secure-json-parse / JSON.parse errors Fastify's JSON parser tags with statusCode 400.
  if (error instanceof SyntaxError && status === 400) {
    return new BulwarkHttpError(
      ErrorCodes.HTTP_MALFORMED_BODY,
      400,
      'The request body is not valid JSON.',
      { location: 'body' },
      { cause: error },
    );
  }
  return undefined;
}
