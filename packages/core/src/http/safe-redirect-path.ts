/**
 * A redirect target taken from the request (a SAML RelayState, a `returnTo` parameter) is
 * attacker-controllable: only a same-site absolute path is followed (`/dashboard?tab=1`), never
 * `//evil.example`, `/\evil.example`, a scheme or control characters; anything else gives `fallback`.
 */
export function safeRedirectPath(value: unknown, fallback = '/'): string {
  return typeof value === 'string' && value.length <= 2048 && /^\/(?![/\\])[\x21-\x7e]*$/.test(value)
    ? value
    : fallback;
}
