import { jwtVerify, SignJWT } from 'jose';

/**
 * The app's own JWTs, as found: HS256, claims `{ id, username, iat, exp }` (no `sub`), sent back
 * as `Authorization: Token <jwt>` (the RealWorld API convention). Adopting Bulwark keeps issuing
 * exactly these; Bulwark's authentication verifies them (src/adopt/bulwark-wiring.ts).
 */
export interface AppTokenClaims {
  id: number;
  username: string;
}

export const TOKEN_TTL_SEC = 24 * 3600;

export class AppTokens {
  constructor(private readonly secret: Uint8Array) {}

  sign(claims: AppTokenClaims): Promise<string> {
    return new SignJWT({ id: claims.id, username: claims.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_TTL_SEC}s`)
      .sign(this.secret);
  }

  /** The claims of a valid token, or undefined (bad signature, expired, wrong shape). */
  async verify(token: string): Promise<AppTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'iat'],
      });
      if (typeof payload.id !== 'number' || typeof payload.username !== 'string') return undefined;
      return { id: payload.id, username: payload.username };
    } catch {
      return undefined;
    }
  }
}
