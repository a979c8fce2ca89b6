import { CsrfProtection } from '../../src/http/csrf-protection';
import { InputGuard } from '../../src/http/input-guard';

const headers = (h: Record<string, string>) => h;
const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('InputGuard fast paths', () => {
  const guard = new InputGuard();

  it('hasBody: a Transfer-Encoding or a Content-Length above 0, whatever the method', () => {
    expect(guard.hasBody(headers({}))).toBe(false);
    expect(guard.hasBody(headers({ 'content-length': '0' }))).toBe(false);
    expect(guard.hasBody(headers({ 'content-length': '12' }))).toBe(true);
    expect(guard.hasBody(headers({ 'transfer-encoding': 'chunked' }))).toBe(true);
    expect(guard.hasBody({ 'content-length': ['5', '5'] })).toBe(true);
  });

  it('the plain-path shortcut agrees with the segment walk on every path', () => {
    const head = (url: string) => () => guard.checkHead({ method: 'GET', url, headers: {} });
    for (const ok of ['/', '/hello', '/a/b/c', '/a.b/c.d', '/x/...', '/x/.well-known', '/a?b=../c']) {
      expect([ok, codeOf(head(ok))]).toEqual([ok, undefined]);
    }
    for (const [url, code] of [
      ['/..', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/..', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/../b', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/./b', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/.', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['..', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['../a', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/%2e%2e/b', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/%252e%252e/b', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/b%2F..%2Fc', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a\\b', 'ERR_HTTP_PATH_TRAVERSAL'],
      ['/a/%00', 'ERR_HTTP_INPUT_NUL_BYTE'],
      ['/a/\0', 'ERR_HTTP_INPUT_NUL_BYTE'],
      ['/?a[__proto__]=1', 'ERR_HTTP_INPUT_FORBIDDEN_KEY'],
    ]) {
      expect([url, codeOf(head(url!))]).toEqual([url, code]);
    }
  });
});

describe('CsrfProtection.exempt', () => {
  const secret = 'a-csrf-secret-of-at-least-32-bytes!!';

  it('is the safe methods by default and agrees with check()', () => {
    const protection = new CsrfProtection({ secret });
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(protection.exempt(method)).toBe(true);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'PROPFIND', 'get']) {
      expect(protection.exempt(method)).toBe(false);
      expect(codeOf(() => protection.check({ method, headers: {}, binding: 'u' }))).toBe('EBADCSRFTOKEN');
    }
  });

  it('follows ignoreMethods: a method taken off the list is checked', () => {
    const protection = new CsrfProtection({ secret, ignoreMethods: ['head', 'OPTIONS'] });
    expect(protection.exempt('GET')).toBe(false);
    expect(protection.exempt('HEAD')).toBe(true);
    expect(codeOf(() => protection.check({ method: 'GET', headers: {}, binding: 'u' }))).toBe(
      'EBADCSRFTOKEN',
    );
  });

  it('an observer hears decisions on checked methods only', () => {
    const protection = new CsrfProtection({ secret });
    const decisions: boolean[] = [];
    protection.observe({ csrfDecision: (refused) => decisions.push(refused) });
    protection.check({ method: 'GET', headers: {}, binding: 'u' });
    expect(codeOf(() => protection.check({ method: 'POST', headers: {}, binding: 'u' }))).toBe(
      'EBADCSRFTOKEN',
    );
    const { token } = protection.tokenFor(undefined, 'u');
    protection.check({
      method: 'POST',
      headers: { cookie: `__Host-bulwark.csrf=${token}`, 'csrf-token': token },
      binding: 'u',
    });
    expect(decisions).toEqual([true, false]);
  });
});
