import {
  detachExpressRequestShape,
  isExpressRequest,
  useDictionaryProperties,
} from '../../src/http/express-object-shape';
import { hasFastProperties } from '../../../../test/support/v8-shape';

describe('express-object-shape', () => {
  it('V8 answers the probe (an object literal is fast, one that lost a middle property is not)', () => {
    const literal = { a: 1, b: 2, c: 3 };
    expect(hasFastProperties(literal)).toBe(true);
    delete (literal as { a?: number }).a;
    expect(hasFastProperties(literal)).toBe(false);
  });

  it('useDictionaryProperties switches an object to dictionary mode and leaves its own keys as they were', () => {
    const target = { method: 'GET', url: '/', [Symbol.for('x')]: 1 };
    const keys = Reflect.ownKeys(target);
    useDictionaryProperties(target);
    expect(hasFastProperties(target)).toBe(false);
    expect(Reflect.ownKeys(target)).toEqual(keys);
    expect(target.method).toBe('GET');
  });

  it('leaves a non-extensible object alone, without throwing', () => {
    const frozen = Object.freeze({ a: 1 });
    expect(() => useDictionaryProperties(frozen)).not.toThrow();
    // An Express-like request (its `app` on the prototype) that cannot take the probe properties.
    const sealed = Object.preventExtensions(Object.assign(Object.create({ app: () => 0 }), { a: 1 }));
    expect(() => detachExpressRequestShape(sealed)).not.toThrow();
  });

  it('detachExpressRequestShape switches an Express request and its response, and nothing else', () => {
    const app = (): void => undefined;
    const res = { statusCode: 200, locals: {} };
    const req = Object.assign(Object.create({ app }), { method: 'GET', res });
    expect(isExpressRequest(req)).toBe(true);
    detachExpressRequestShape(req);
    expect(hasFastProperties(req)).toBe(false);
    expect(hasFastProperties(res)).toBe(false);

    // A Node request (Koa's ctx.req, Fastify's raw) shares its hidden class with every other one:
    // switching it would only cost. Nor is a test's plain object touched.
    const plain = { method: 'GET', res: { statusCode: 200 } };
    expect(isExpressRequest(plain)).toBe(false);
    detachExpressRequestShape(plain);
    expect(hasFastProperties(plain)).toBe(true);
    expect(hasFastProperties(plain.res)).toBe(true);
  });
});
