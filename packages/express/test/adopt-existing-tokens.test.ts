import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import { ErrorCodes, TokenService, type HttpPrincipal, type TokenClaims } from '@bulwark/core';
import { bulwark } from '../src';

/**
 * docs/adopting.md, "Reusing the app's tokens", over HTTP: an existing app's clients send
 * `Authorization: Token <jwt>`, its tokens carry `user_id` (a number) and `scope` instead of `sub`
 * and `roles`, and its HS256 secret is shorter than 32 bytes.
 */
const SECRET = 'changeme-legacy-2019'; // 20 bytes: short, above the 16-byte floor

function appToken(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(Buffer.from(secret));
}

function start() {
  const warnings: string[] = [];
  const tokens = new TokenService({
    algorithms: ['HS256'],
    legacyAlgorithms: ['HMAC-SHORT-SECRET'],
    verification: { key: Buffer.from(SECRET) },
    // The app's tokens have no `sub`: `exp` and `iat` are still required.
    requiredClaims: ['exp', 'iat', 'user_id'],
    onWarning: (m) => warnings.push(m),
  });
  const principal = (claims: TokenClaims): HttpPrincipal => ({
    id: String(claims.user_id),
    roles: typeof claims.scope === 'string' ? claims.scope.split(' ') : [],
    type: 'user',
    claims,
  });
  const app = express();
  const bw = bulwark({ tokens }, { authenticate: { schemes: ['Token', 'Bearer'], principal } });
  app.use(bw);
  app.get('/me', (req, res) => {
    res.json({ id: req.principal?.id, roles: req.principal?.roles });
  });
  app.use(bw.problemDetails());
  return { app, warnings };
}

describe("adopting an app's existing tokens", () => {
  it('authenticates `Token <jwt>` with a sub-less token, a custom principal and a short legacy secret', async () => {
    const { app, warnings } = start();
    const token = await appToken({ user_id: 17, scope: 'staff billing' });
    const res = await request(app).get('/me').set('Authorization', `Token ${token}`).expect(200);
    expect(res.body).toEqual({ id: '17', roles: ['staff', 'billing'] });
    await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(warnings).toHaveLength(1);
    expect(warnings.join()).not.toContain(SECRET);
  });

  it('still refuses what it should: another secret, a token without the id claim, no credential', async () => {
    const { app } = start();
    const forged = await appToken({ user_id: 1, scope: 'admin' }, 'changeme-legacY');
    const bad = await request(app).get('/me').set('Authorization', `Token ${forged}`).expect(401);
    expect(bad.headers['www-authenticate']).toBe('Token realm="bulwark", error="invalid_token"');
    const noId = await appToken({ scope: 'staff' });
    const missing = await request(app).get('/me').set('Authorization', `Token ${noId}`).expect(401);
    expect(missing.body.code).toBe(ErrorCodes.TOKEN_INVALID);
    const none = await request(app).get('/me').expect(401);
    expect(none.headers['www-authenticate']).toBe('Token realm="bulwark"');
  });
});
