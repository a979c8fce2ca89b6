import { Module, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { LdapSignInController } from './ldap-sign-in-controller';
import { LDAP_SIGN_IN_OPTIONS, type LdapSignInOptions } from './ldap-sign-in-options';

function checked(options: LdapSignInOptions): LdapSignInOptions {
  if (typeof options?.ldap?.authenticate !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('LdapSignInModule: ldap (an LdapAuthenticator) and onSignIn are required');
  }
  return options;
}

/**
 * LDAP / Active Directory sign-in for NestJS: `LdapSignInModule.forRoot({ ldap, onSignIn })` adds
 * `POST /auth/ldap/login` (use RouterModule to mount it elsewhere). Register it beside
 * BulwarkModule, whose exception filter answers refusals as problem+json.
 */
@Module({})
export class LdapSignInModule {
  static forRoot(options: LdapSignInOptions): DynamicModule {
    return {
      module: LdapSignInModule,
      controllers: [LdapSignInController],
      providers: [{ provide: LDAP_SIGN_IN_OPTIONS, useValue: checked(options) }],
    };
  }

  static forRootAsync(options: {
    imports?: ModuleMetadata['imports'];
    inject?: unknown[];
    useFactory: (...args: never[]) => LdapSignInOptions | Promise<LdapSignInOptions>;
  }): DynamicModule {
    return {
      module: LdapSignInModule,
      imports: options.imports ?? [],
      controllers: [LdapSignInController],
      providers: [
        {
          provide: LDAP_SIGN_IN_OPTIONS,
          inject: (options.inject ?? []) as never[],
          useFactory: async (...args: never[]) => checked(await options.useFactory(...args)),
        },
      ],
    };
  }
}
