/**
 * docs/migrate-from-casl.md, AFTER: the same routes authorized by Bulwark. The CASL rules become
 * a policy document; PoliciesGuard + @CheckPolicies + the handlers' instance checks become one
 * `@Authorize(action, { loader })` per route, decided by BulwarkGuard on the loaded record.
 */
import { definePolicy, PolicyEngine, TokenService, type Authorizer } from '@bulwark/core';
import { Authorize, BulwarkModule, type BulwarkRequestContext, type ResourceLoader } from '@bulwark/nestjs';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  ParseIntPipe,
  Patch,
} from '@nestjs/common';
import { Article, ArticlesRepository, titleOf } from './articles';
import type { CaslAbilityFactory } from './before';

// #region policy
export const articlePolicy = definePolicy({
  version: 1,
  roles: { user: {}, admin: { inherits: ['user'] } },
  policies: [
    {
      id: 'articles',
      rules: [
        // can(Action.Manage, 'all') for admins
        {
          id: 'admin-all',
          effect: 'allow',
          roles: ['admin'],
          actions: ['article:*'],
          resources: ['articles', 'articles/*'],
        },
        // can(Action.Read, 'all')
        {
          id: 'read',
          effect: 'allow',
          roles: ['user'],
          actions: ['article:read'],
          resources: ['articles', 'articles/*'],
        },
        // can(Action.Update, Article, { authorId: user.id })
        {
          id: 'update-own',
          effect: 'allow',
          roles: ['user'],
          actions: ['article:update'],
          resources: ['articles/*'],
          when: { attr: 'resource.authorId', eq: { ref: 'subject.id' } },
        },
        // cannot(Action.Delete, Article, { isPublished: true }): a deny wins over every allow
        {
          id: 'keep-published',
          effect: 'deny',
          roles: ['*'],
          actions: ['article:delete'],
          resources: ['articles/*'],
          when: { attr: 'resource.isPublished', eq: true },
          reasonId: 'published',
        },
      ],
    },
  ],
});
// #endregion policy

// #region controller
/** The record the decision is about, read through the app's own repository (Nest DI). */
@Injectable()
export class ArticleLoader implements ResourceLoader {
  constructor(@Inject(ArticlesRepository) private readonly articles: ArticlesRepository) {}
  load(request: BulwarkRequestContext) {
    const article = this.articles.find(Number(request.params.id));
    // undefined: 404 before the handler runs
    return (
      article && {
        type: 'articles',
        id: String(article.id),
        authorId: article.authorId,
        isPublished: article.isPublished,
      }
    );
  }
}

@Controller('articles')
export class ArticlesController {
  constructor(@Inject(ArticlesRepository) private readonly articles: ArticlesRepository) {}

  @Get()
  @Authorize('article:read', 'articles')
  list() {
    return this.articles.all();
  }

  @Patch(':id')
  @Authorize('article:update', { loader: ArticleLoader })
  update(@Param('id', ParseIntPipe) id: number, @Body() body: unknown) {
    const article = this.articles.find(id)!;
    article.title = titleOf(body);
    return article;
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('article:delete', { loader: ArticleLoader })
  remove(@Param('id', ParseIntPipe) id: number) {
    this.articles.delete(id);
  }
}
// #endregion controller

// #region bridge
/**
 * Step 0, optional: `@Authorize` routes decided by the CASL ability you already have, while the
 * rules move to a policy. `article:update` on `articles/3` asks `can('update', <Article 3>)`.
 */
export function caslAuthorizer(factory: CaslAbilityFactory): Authorizer {
  return {
    check(subject, action, resource) {
      const ability = factory.createForUser({ id: subject.id, roles: [...subject.roles] });
      const verb = action.split(':')[1] as Parameters<typeof ability.can>[0];
      const target =
        resource.id === undefined
          ? Article
          : new Article(Number(resource.id), String(resource.authorId), '', resource.isPublished === true);
      return ability.can(verb, target)
        ? { allowed: true, effect: 'allow', reasonId: 'casl_allow' }
        : { allowed: false, effect: 'deny', reasonId: 'casl_deny' };
    },
  };
}
// #endregion bridge

@Module({})
export class AfterModule {
  /** `authorizer`: the policy engine (default), or the CASL bridge of step 0. */
  static register(jwtKey: Uint8Array, authorizer: Authorizer = new PolicyEngine({ policy: articlePolicy })) {
    return {
      module: AfterModule,
      imports: [
        // #region module
        BulwarkModule.forRoot({
          tokens: new TokenService({ algorithms: ['HS256'], verification: { key: jwtKey } }),
          authorizer, // new PolicyEngine({ policy: articlePolicy })
          csrf: false, // bearer tokens only
        }),
        // #endregion module
      ],
      controllers: [ArticlesController],
      providers: [ArticlesRepository, ArticleLoader],
    };
  }
}
