import { Module, type DynamicModule } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { oidcController } from './oidc-controller';
import {
  BULWARK_OIDC_OPTIONS,
  type BulwarkOidcModuleAsyncOptions,
  type BulwarkOidcModuleOptions,
  type BulwarkOidcOptions,
} from './oidc-module-options';
import { BulwarkOidcRoutes } from './oidc-routes';

function checkPath(path: string): string {
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'BulwarkOidcModule.path must be a path like auth/oidc',
      {
        path: 'BulwarkOidcModule.path',
      },
    );
  }
  return path;
}

function checkOptions(options: BulwarkOidcOptions): BulwarkOidcOptions {
  const fail = (field: string, message: string): never => {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `BulwarkOidcModule.${field} ${message}`, {
      path: `BulwarkOidcModule.${field}`,
    });
  };
  if (typeof options?.relyingParty?.callback !== 'function')
    fail('relyingParty', 'must be an OidcRelyingParty');
  if (typeof options.onSignIn !== 'function') fail('onSignIn', 'must be a function');
  if (options.onLogout !== undefined && typeof options.onLogout !== 'function')
    fail('onLogout', 'must be a function');
  return options;
}

/**
 * OpenID Connect sign-in for NestJS: `BulwarkOidcModule.forRoot({ relyingParty, onSignIn })`
 * mounts `GET auth/oidc/login`, `GET auth/oidc/callback`, `POST auth/oidc/logout` and `POST
 * auth/oidc/backchannel-logout` (public routes), glue over @bulwark/identity's OidcEndpoint.
 * Failures answer problem+json (ERR_SIGNIN_FAILED, 401; 429 on a brute-force lockout).
 */
@Module({})
export class BulwarkOidcModule {
  static forRoot(options: BulwarkOidcModuleOptions): DynamicModule {
    return {
      module: BulwarkOidcModule,
      controllers: [oidcController(checkPath(options.path ?? 'auth/oidc'))],
      providers: [{ provide: BULWARK_OIDC_OPTIONS, useValue: checkOptions(options) }, BulwarkOidcRoutes],
    };
  }

  static forRootAsync(options: BulwarkOidcModuleAsyncOptions): DynamicModule {
    return {
      module: BulwarkOidcModule,
      imports: options.imports ?? [],
      controllers: [oidcController(checkPath(options.path ?? 'auth/oidc'))],
      providers: [
        {
          provide: BULWARK_OIDC_OPTIONS,
          inject: (options.inject ?? []) as never[],
          useFactory: async (...args: never[]) => checkOptions(await options.useFactory(...args)),
        },
        BulwarkOidcRoutes,
      ],
    };
  }
}
