import { safeRedirectPath } from '@bulwark/core/http';

describe('safeRedirectPath', () => {
  it.each(['/', '/home', '/a/b?c=d&e=%2F#frag'])('follows the same-site path %j', (path) => {
    expect(safeRedirectPath(path)).toBe(path);
  });

  it.each([
    '//evil.example',
    '/\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '/a b',
    '/a\r\nSet-Cookie: x=1',
    '',
    undefined,
    42,
    `/${'a'.repeat(3000)}`,
  ])('refuses %j', (value) => {
    expect(safeRedirectPath(value)).toBe('/');
    expect(safeRedirectPath(value, '/start')).toBe('/start');
  });
});
