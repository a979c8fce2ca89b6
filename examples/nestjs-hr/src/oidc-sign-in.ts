import type { ServerResponse } from 'node:http';
import { SignInMapper } from '@bulwark/identity';
import { OidcRelyingParty } from '@bulwark/identity/oidc';
import { BulwarkOidcModule } from '@bulwark/nestjs';
import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TOKEN_TTL_SEC } from './auth.controller';
import { EmployeeDirectory } from './employee-directory';
import { Employee } from './entities/employee';
import { SurveyResponse } from './entities/survey-response';
import { HR_KIT, type HrKit } from './hr-kit';

/** Staff sign-in through the company's OpenID provider (set OIDC_ISSUER to turn it on). */
export interface HrOidcOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** The app's public origin, e.g. `https://hr.example`: the callback is `<publicUrl>/auth/oidc/callback`. */
  publicUrl: string;
  /** Only for a provider on this machine in development (http://127.0.0.1:...). */
  allowInsecureHttp?: boolean;
}

/** OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, PUBLIC_URL; undefined when OIDC_ISSUER is unset. */
export function hrOidcFromEnv(env: NodeJS.ProcessEnv, fallbackUrl: string): HrOidcOptions | undefined {
  if (env.OIDC_ISSUER === undefined || env.OIDC_ISSUER === '') return undefined;
  if (env.OIDC_CLIENT_ID === undefined) throw new Error('OIDC_ISSUER is set: set OIDC_CLIENT_ID too');
  return {
    issuer: env.OIDC_ISSUER,
    clientId: env.OIDC_CLIENT_ID,
    ...(env.OIDC_CLIENT_SECRET ? { clientSecret: env.OIDC_CLIENT_SECRET } : {}),
    publicUrl: env.PUBLIC_URL ?? fallbackUrl,
    allowInsecureHttp: env.OIDC_ALLOW_INSECURE_HTTP === '1',
  };
}

/** The employee directory for the sign-in module (its own instance, on the app's DataSource). */
@Module({})
class HrOidcDirectory {}

/**
 * The OIDC routes (`GET /auth/oidc/login`, `/auth/oidc/callback`): a staff member signs in at the
 * provider; the provisioning hook finds the employee by the verified e-mail (no employee, no
 * sign-in: 403) and takes the role from the HR record, not from the provider; the callback answers
 * with the same bearer JWT as `POST /auth/login`. Failures count per IP on the app's brute-force
 * guard; sign-ins and failures are audited (`auth.login`, method `oidc`).
 */
export function hrOidcModule(kit: HrKit, oidc: HrOidcOptions): DynamicModule {
  return BulwarkOidcModule.forRootAsync({
    imports: [
      {
        module: HrOidcDirectory,
        imports: [TypeOrmModule.forFeature([Employee, SurveyResponse])],
        providers: [{ provide: HR_KIT, useValue: kit }, EmployeeDirectory],
        exports: [EmployeeDirectory],
      },
    ],
    inject: [EmployeeDirectory],
    useFactory: (directory: EmployeeDirectory) => ({
      relyingParty: new OidcRelyingParty({
        provider: 'staff-sso',
        issuer: oidc.issuer,
        clientId: oidc.clientId,
        ...(oidc.clientSecret !== undefined ? { clientSecret: oidc.clientSecret } : {}),
        redirectUri: `${oidc.publicUrl}/auth/oidc/callback`,
        scopes: ['email', 'profile'],
        userinfo: true,
        allowInsecureHttp: oidc.allowInsecureHttp === true,
        cookie: { secure: !oidc.publicUrl.startsWith('http:'), name: 'hr-oidc' },
        bruteForce: kit.bruteForce!,
        signIn: new SignInMapper({
          audit: kit.auditLog!,
          provision: async (identity) => {
            // Only an e-mail the provider says it verified identifies an employee.
            if (identity.email === undefined || identity.attributes.email_verified !== true) return null;
            const employee = await directory.findByEmail(identity.email);
            return employee === undefined ? null : { id: employee.id, roles: [employee.role] };
          },
        }),
      }),
      onSignIn: async (principal, { res }) => {
        const token = await kit.tokens!.sign(
          { roles: [...principal.roles] },
          { subject: principal.id, ttlSec: TOKEN_TTL_SEC },
        );
        const out = res as ServerResponse;
        out.statusCode = 200;
        out.setHeader('Content-Type', 'application/json');
        out.end(
          JSON.stringify({ token, tokenType: 'Bearer', expiresIn: TOKEN_TTL_SEC, employeeId: principal.id }),
        );
      },
    }),
  });
}
