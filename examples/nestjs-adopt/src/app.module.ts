import type { Bulwark } from '@bulwark/core';
import { BulwarkModule } from '@bulwark/nestjs';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { bulwarkModuleOptions } from './adopt/bulwark-wiring';
import { ArticleOwnerLoader } from './articles/article-owner.loader';
import { ArticlesController } from './articles/articles.controller';
import { ArticlesService } from './articles/articles.service';
import { AppTokens } from './auth/app-tokens';
import { AuthGuard } from './auth/auth.guard';
import { userEntityOf, type AdoptMode } from './databases';
import { blindIndexEmailLookup, EMAIL_LOOKUP, plaintextEmailLookup } from './users/email-lookup';
import { USER_ENTITY, UsersService } from './users/users.service';
import { UsersController } from './users/users.controller';

export interface AppModuleOptions {
  mode: AdoptMode;
  database: TypeOrmModuleOptions;
  tokens: AppTokens;
  /** Mode `after`: Bulwark's services (adopt/bulwark-wiring.ts). */
  bulwark?: Bulwark;
}

/**
 * The application module. Mode `before` is the app as found: its own AuthGuard. Mode `after`
 * swaps that guard for BulwarkModule (Bulwark's guard verifying the same tokens, @Authorize,
 * @Audited, the exception filter for Bulwark's own errors, the encryption subscriber on the
 * app's DataSource) and the e-mail lookup for the blind-index one. Nothing else changes.
 */
@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const after = options.mode === 'after';
    if (after && options.bulwark === undefined) throw new Error('mode after needs the Bulwark services');
    const providers: Provider[] = [
      { provide: AppTokens, useValue: options.tokens },
      { provide: USER_ENTITY, useValue: userEntityOf(options.mode) },
      { provide: EMAIL_LOOKUP, useValue: after ? blindIndexEmailLookup : plaintextEmailLookup },
      UsersService,
      ArticlesService,
      ArticleOwnerLoader,
      ...(after ? [] : [{ provide: APP_GUARD, useClass: AuthGuard }]),
    ];
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(options.database),
        ...(after ? [BulwarkModule.forRoot(bulwarkModuleOptions(options.bulwark!))] : []),
      ],
      controllers: [UsersController, ArticlesController],
      providers,
    };
  }
}
