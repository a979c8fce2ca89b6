import { Injectable } from '@nestjs/common';

/** The guide's data, shared by the before and after apps: an in-memory article store. */
export class Article {
  constructor(
    readonly id: number,
    readonly authorId: string,
    public title: string,
    readonly isPublished: boolean,
  ) {}
}

@Injectable()
export class ArticlesRepository {
  private readonly rows = new Map<number, Article>([
    [1, new Article(1, 'ann', 'Ann, published', true)],
    [2, new Article(2, 'bob', 'Bob, published', true)],
    [3, new Article(3, 'ann', 'Ann, draft', false)],
  ]);

  all(): Article[] {
    return [...this.rows.values()];
  }

  find(id: number): Article | undefined {
    return this.rows.get(id);
  }

  delete(id: number): void {
    this.rows.delete(id);
  }
}

/** The body a PATCH may carry. */
export const titleOf = (body: unknown): string =>
  typeof (body as { title?: unknown })?.title === 'string' ? (body as { title: string }).title : '';
