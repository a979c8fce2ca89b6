import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type Repository } from 'typeorm';
import { AppForbiddenException, AppNotFoundException, FieldCheck, wrapped } from '../errors';
import { USER_ENTITY } from '../users/users.service';
import type { AnyUser } from '../users/user.secured-entity';
import { Article } from './article.entity';

export interface ArticleJson {
  slug: string;
  title: string;
  body: string;
  createdAt: string;
  updatedAt: string;
  author: { username: string; bio: string | null };
}

const slugify = (title: string): string =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 140);

/** Articles with their author's public profile (username and bio: the bio decrypts in mode `after`). */
@Injectable()
export class ArticlesService {
  readonly articles: Repository<Article>;
  private readonly users: Repository<AnyUser>;

  constructor(@Inject(DataSource) dataSource: DataSource, @Inject(USER_ENTITY) entity: new () => AnyUser) {
    this.articles = dataSource.getRepository(Article);
    this.users = dataSource.getRepository(entity);
  }

  /** Newest first; `author` filters by username; `limit` 1..100 (default 20), `offset` >= 0. */
  async list(query: Record<string, unknown>): Promise<{ articles: ArticleJson[]; articlesCount: number }> {
    const check = new FieldCheck();
    const limit = this.int(query.limit, 20, 1, 100, 'limit', check);
    const offset = this.int(query.offset, 0, 0, 1_000_000, 'offset', check);
    check.throwIfAny();
    let authorId: number | undefined;
    if (typeof query.author === 'string') {
      const author = await this.users.findOneBy({ username: query.author });
      if (author === null) return { articles: [], articlesCount: 0 };
      authorId = author.id;
    }
    const [rows, count] = await this.articles.findAndCount({
      where: authorId !== undefined ? { authorId } : {},
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
      skip: offset,
    });
    const authors = new Map(
      (await this.users.findBy({ id: In([...new Set(rows.map((r) => r.authorId))]) })).map((u) => [u.id, u]),
    );
    return { articles: rows.map((a) => this.json(a, authors.get(a.authorId))), articlesCount: count };
  }

  async get(slug: string): Promise<{ article: ArticleJson }> {
    const article = await this.found(slug);
    return {
      article: this.json(article, (await this.users.findOneBy({ id: article.authorId })) ?? undefined),
    };
  }

  /** The stored article, or null (the ownership loader of mode `after` reads it too). */
  find(slug: string): Promise<Article | null> {
    return this.articles.findOneBy({ slug });
  }

  async create(userId: number, body: unknown): Promise<{ article: ArticleJson }> {
    const input = wrapped(body, 'article');
    const check = new FieldCheck();
    const title = check.text(input, 'title', 120);
    const text = check.text(input, 'body', 20_000);
    check.throwIfAny();
    const slug = slugify(title!);
    if (slug.length === 0) check.add('title', 'is invalid');
    else if ((await this.find(slug)) !== null) check.add('title', 'has already been taken');
    check.throwIfAny();
    const article = await this.articles.save(
      this.articles.create({ slug, title: title!, body: text!, authorId: userId }),
    );
    return this.get(article.slug);
  }

  async update(userId: number, slug: string, body: unknown): Promise<{ article: ArticleJson }> {
    const article = await this.owned(userId, slug);
    const input = wrapped(body, 'article');
    const check = new FieldCheck();
    const title = check.text(input, 'title', 120, false);
    const text = check.text(input, 'body', 20_000, false);
    check.throwIfAny();
    if (title !== undefined) article.title = title;
    if (text !== undefined) article.body = text;
    await this.articles.save(article);
    return this.get(slug);
  }

  async remove(userId: number, slug: string): Promise<void> {
    await this.articles.remove(await this.owned(userId, slug));
  }

  /** The app's own ownership check (kept after adopting: Bulwark's @Authorize runs before it). */
  private async owned(userId: number, slug: string): Promise<Article> {
    const article = await this.found(slug);
    if (article.authorId !== userId) throw new AppForbiddenException('article');
    return article;
  }

  private async found(slug: string): Promise<Article> {
    const article = await this.find(slug);
    if (article === null) throw new AppNotFoundException('article');
    return article;
  }

  private int(value: unknown, fallback: number, min: number, max: number, name: string, check: FieldCheck) {
    if (value === undefined) return fallback;
    const n = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) check.add(name, `must be an integer from ${min} to ${max}`);
    return n;
  }

  private json(article: Article, author: AnyUser | undefined): ArticleJson {
    // articles.authorId always names a user (users are never deleted): a missing one is a bug.
    if (author === undefined) throw new Error('article without an author');
    return {
      slug: article.slug,
      title: article.title,
      body: article.body,
      createdAt: article.createdAt.toISOString(),
      updatedAt: article.updatedAt.toISOString(),
      author: { username: author.username, bio: author.bio },
    };
  }
}
