import { Audited, Authorize } from '@bulwark/nestjs';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { CurrentUserId, SkipAuth } from '../auth/auth.decorators';
import { ArticleOwnerLoader } from './article-owner.loader';
import { ArticlesService } from './articles.service';

/**
 * Article routes. The adoption added `@Audited` on the writes and `@Authorize` with the ownership
 * rule (policy.ts) on update and delete; both are inert while BulwarkModule is not imported.
 */
@Controller('articles')
export class ArticlesController {
  constructor(@Inject(ArticlesService) private readonly articles: ArticlesService) {}

  @Get()
  @SkipAuth()
  list(@Query() query: Record<string, unknown>) {
    return this.articles.list(query);
  }

  @Get(':slug')
  @SkipAuth()
  get(@Param('slug') slug: string) {
    return this.articles.get(slug);
  }

  @Post()
  @Authorize('article:create', 'articles')
  @Audited('article.create', { resource: 'articles' })
  create(@CurrentUserId() userId: number, @Body() body: unknown) {
    return this.articles.create(userId, body);
  }

  @Put(':slug')
  @Authorize('article:update', { loader: ArticleOwnerLoader })
  @Audited('article.update', { resource: (r) => ({ type: 'articles', id: String(r.params.slug) }) })
  update(@CurrentUserId() userId: number, @Param('slug') slug: string, @Body() body: unknown) {
    return this.articles.update(userId, slug, body);
  }

  @Delete(':slug')
  @HttpCode(204)
  @Authorize('article:delete', { loader: ArticleOwnerLoader })
  @Audited('article.delete', { resource: (r) => ({ type: 'articles', id: String(r.params.slug) }) })
  async remove(@CurrentUserId() userId: number, @Param('slug') slug: string): Promise<void> {
    await this.articles.remove(userId, slug);
  }
}
