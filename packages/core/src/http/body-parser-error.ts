import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';

/** body-parser / raw-body error `type` -> the input guard's code, status and a fixed detail. */
const BY_TYPE: Readonly<Record<string, readonly [code: string, status: number, detail: string]>> = {
  'entity.too.large': [ErrorCodes.HTTP_BODY_TOO_LARGE, 413, 'The request body is too large.'],
  'entity.parse.failed': [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid.'],
  'entity.verify.failed': [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid.'],
  'stream.encoding.set': [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid.'],
  'encoding.unsupported': [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body encoding is not supported.',
  ],
  'charset.unsupported': [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body charset is not supported.',
  ],
  'parameters.too.many': [ErrorCodes.HTTP_INPUT_TOO_DEEP, 422, 'The request body has too many parameters.'],
  'request.aborted': [ErrorCodes.HTTP_BAD_REQUEST, 400, 'The request body was not received completely.'],
  'request.size.invalid': [
    ErrorCodes.HTTP_BAD_REQUEST,
    400,
    'The request body size does not match its Content-Length.',
  ],
};

/**
 * The input guard's refusal for an error of a body parser that ran before Bulwark (body-parser,
 * raw-body, as `express.json()` and NestJS's built-in parser use): the same code and status the
 * guard gives when it reads the body itself, and a fixed detail. The parser's own message is never
 * used: for invalid JSON it quotes the body (`Unexpected token 'x', "{x" is not valid JSON`), which
 * may be personal data. `undefined` for anything that is not a parser's 4xx error.
 */
export function bodyParserError(error: unknown): BulwarkHttpError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status, statusCode } = error as { type?: unknown; status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof type !== 'string' || typeof code !== 'number' || code < 400 || code > 499) return undefined;
  const known = Object.hasOwn(BY_TYPE, type) ? BY_TYPE[type] : undefined;
  if (known === undefined) return undefined;
  return new BulwarkHttpError(known[0], known[1], known[2], { location: 'body' }, { cause: error });
}
