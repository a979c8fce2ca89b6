import { BulwarkHttpError, ErrorCodes } from '../../src';
import { bodyParserError } from '../../src/http/body-parser-error';
import { problemFor } from '../../src/http/problem-details';

/** What body-parser / raw-body pass to next(): http-errors with a `type`, the raw body on parse errors. */
function parserError(status: number, type: string, message: string, extra: object = {}): Error {
  const error = Object.assign(status === 400 ? new SyntaxError(message) : new Error(message), {
    status,
    statusCode: status,
    expose: true,
    type,
    ...extra,
  });
  return error;
}

describe('bodyParserError', () => {
  it.each([
    ['entity.too.large', 413, ErrorCodes.HTTP_BODY_TOO_LARGE, 413],
    ['entity.parse.failed', 400, ErrorCodes.HTTP_MALFORMED_BODY, 400],
    ['entity.verify.failed', 403, ErrorCodes.HTTP_MALFORMED_BODY, 400],
    ['charset.unsupported', 415, ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE, 415],
    ['encoding.unsupported', 415, ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE, 415],
    ['parameters.too.many', 413, ErrorCodes.HTTP_INPUT_TOO_DEEP, 422],
    ['request.aborted', 400, ErrorCodes.HTTP_BAD_REQUEST, 400],
    ['request.size.invalid', 400, ErrorCodes.HTTP_BAD_REQUEST, 400],
  ])('maps %s to the input guard code %s', (type, status, code, answered) => {
    const mapped = bodyParserError(parserError(status, type, 'parser says so'));
    expect(mapped).toBeInstanceOf(BulwarkHttpError);
    expect(mapped).toMatchObject({ code, status: answered });
    expect(problemFor(mapped).status).toBe(answered);
  });

  it("never carries the parser's message or the body it quotes", () => {
    const body = '{"password":"hunter2", oops}';
    const error = parserError(
      400,
      'entity.parse.failed',
      `Unexpected token 'o', "${body}" is not valid JSON`,
      {
        body,
      },
    );
    const problem = problemFor(bodyParserError(error));
    const text = JSON.stringify(problem.body);
    expect(problem.body).toMatchObject({ status: 400, code: ErrorCodes.HTTP_MALFORMED_BODY });
    expect(text).not.toMatch(/hunter2|Unexpected|oops/);
  });

  it('leaves alone what is not a body-parser 4xx error', () => {
    expect(bodyParserError(new Error('x'))).toBeUndefined();
    expect(bodyParserError(parserError(500, 'entity.too.large', 'x'))).toBeUndefined();
    expect(bodyParserError(parserError(400, 'toString', 'x'))).toBeUndefined();
    expect(bodyParserError(parserError(400, '__proto__', 'x'))).toBeUndefined();
    expect(bodyParserError({ status: 400 })).toBeUndefined();
    expect(bodyParserError(null)).toBeUndefined();
    expect(bodyParserError('entity.too.large')).toBeUndefined();
  });
});
