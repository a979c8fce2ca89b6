import { Module, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { SamlSignInController } from './saml-sign-in-controller';
import { SAML_SIGN_IN_OPTIONS, type SamlSignInOptions } from './saml-sign-in-options';

function checked(options: SamlSignInOptions): SamlSignInOptions {
  if (typeof options?.saml?.acs !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('SamlSignInModule: saml (a SamlServiceProvider) and onSignIn are required');
  }
  return options;
}

/**
 * SAML 2.0 sign-in for NestJS: `SamlSignInModule.forRoot({ saml, onSignIn })` adds the
 * `/auth/saml/*` endpoints. Register it beside BulwarkModule (its exception filter answers
 * refusals as problem+json); the ACS receives a cross-site form POST from the IdP, so leave it
 * out of CSRF protection (the signed, single-use response is its own proof).
 */
@Module({})
export class SamlSignInModule {
  static forRoot(options: SamlSignInOptions): DynamicModule {
    return {
      module: SamlSignInModule,
      controllers: [SamlSignInController],
      providers: [{ provide: SAML_SIGN_IN_OPTIONS, useValue: checked(options) }],
    };
  }

  static forRootAsync(options: {
    imports?: ModuleMetadata['imports'];
    inject?: unknown[];
    useFactory: (...args: never[]) => SamlSignInOptions | Promise<SamlSignInOptions>;
  }): DynamicModule {
    return {
      module: SamlSignInModule,
      imports: options.imports ?? [],
      controllers: [SamlSignInController],
      providers: [
        {
          provide: SAML_SIGN_IN_OPTIONS,
          inject: (options.inject ?? []) as never[],
          useFactory: async (...args: never[]) => checked(await options.useFactory(...args)),
        },
      ],
    };
  }
}
