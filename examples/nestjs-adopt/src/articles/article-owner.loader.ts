import type { BulwarkRequestContext, ResourceLoader } from '@bulwark/nestjs';
import { Inject, Injectable } from '@nestjs/common';
import { ArticlesService } from './articles.service';

/**
 * Added by the adoption: the resource `@Authorize` decides on, read from the database through the
 * app's own service (a Nest provider, injected). `authorId` is a number in the table and the
 * principal id is a string: the policy compares strictly, so the loader converts it (a number
 * would never equal the subject id, and every owner would be refused). No such article: null,
 * which the guard answers 404.
 */
@Injectable()
export class ArticleOwnerLoader implements ResourceLoader {
  constructor(@Inject(ArticlesService) private readonly articles: ArticlesService) {}

  async load(request: BulwarkRequestContext) {
    const article = await this.articles.find(String(request.params.slug));
    return article === null
      ? null
      : { type: 'articles', id: article.slug, authorId: String(article.authorId) };
  }
}
