import {
  BulwarkModule,
  LdapSignInModule,
  type LdapSignInOptions,
  type TrustProxyOption,
} from '@bulwark/nestjs';
import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { AuditController } from './audit.controller';
import { AuthController } from './auth.controller';
import { ConsentsController } from './consents.controller';
import { EmployeeDirectory } from './employee-directory';
import { EmployeesController } from './employees.controller';
import { Employee } from './entities/employee';
import { SurveyResponse } from './entities/survey-response';
import { HealthController } from './health.controller';
import { hrOidcModule, type HrOidcOptions } from './oidc-sign-in';
import { HR_KIT, type HrKit } from './hr-kit';
import type { HrRequest } from './hr-request';
import { SurveysController } from './surveys.controller';

/**
 * The HR application module. BulwarkModule installs, on every request, the security headers and
 * the input guard (size, depth, prototype-pollution keys, NUL bytes, path traversal); the global
 * guard (bearer JWT + @Authorize + @RequireConsent), the audit interceptor (@Audited) and the
 * problem+json exception filter (unmatched routes included); and registers the field-encryption
 * subscriber on the @nestjs/typeorm DataSource. No CSRF: the API takes bearer tokens, not cookies.
 */
@Module({})
export class HrModule implements NestModule {
  static register(
    kit: HrKit,
    database: TypeOrmModuleOptions,
    trustProxy: TrustProxyOption = false,
    oidc?: HrOidcOptions,
    ldap?: LdapSignInOptions,
  ): DynamicModule {
    return {
      module: HrModule,
      imports: [
        TypeOrmModule.forRoot(database),
        TypeOrmModule.forFeature([Employee, SurveyResponse]),
        BulwarkModule.forRoot({
          tokens: kit.tokens!,
          authorizer: kit.authorizer!,
          auditLog: kit.auditLog!,
          consent: kit.consent!,
          typeorm: { keyRing: kit.keyRing!, defaultKeyId: 'hr' },
          trustProxy,
          // Bearer tokens only: no ambient credential for a cross-site form to ride on.
          csrf: false,
          // One error shape for the whole API: the app's own HttpExceptions as problem+json too.
          appErrors: 'problem',
        }),
        // Staff sign-in through the company's OpenID provider, when configured (src/oidc-sign-in.ts).
        ...(oidc !== undefined ? [hrOidcModule(kit, oidc)] : []),
        // Staff sign-in through LDAP, when configured: POST /auth/ldap/login.
        ...(ldap !== undefined ? [LdapSignInModule.forRoot(ldap)] : []),
      ],
      controllers: [
        HealthController,
        AuthController,
        EmployeesController,
        ConsentsController,
        SurveysController,
        AuditController,
      ],
      providers: [{ provide: HR_KIT, useValue: kit }, EmployeeDirectory],
    };
  }

  constructor(@Inject(EmployeeDirectory) private readonly directory: EmployeeDirectory) {}

  /** `@Authorize` resolvers of employee routes look up the manager through the directory. */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply((req: HrRequest, _res: unknown, next: () => void) => {
        req.hrDirectory = this.directory;
        next();
      })
      .forRoutes(EmployeesController);
  }
}
