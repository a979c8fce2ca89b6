import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, EntitySchema, type DataSourceOptions } from 'typeorm';
import { ErrorCodes, PolicyEngine, matchesScope, type PolicyDocument } from '@bulwark/core';
import { scopeQuery } from '../../src/scope-query';

interface Doc {
  id: number;
  authorId: string | null;
  reviewerId: string | null;
  published: boolean;
  level: number | null;
}
const DocSchema = new EntitySchema<Doc>({
  name: 'Doc',
  columns: {
    id: { type: Number, primary: true },
    authorId: { type: String, nullable: true, name: 'author_id' },
    reviewerId: { type: String, nullable: true },
    published: { type: Boolean },
    level: { type: Number, nullable: true },
  },
});
const ROWS: Doc[] = [
  { id: 1, authorId: 'u1', reviewerId: 'u2', published: true, level: 1 },
  { id: 2, authorId: 'u2', reviewerId: 'u2', published: false, level: 3 },
  { id: 3, authorId: null, reviewerId: null, published: true, level: null },
  { id: 4, authorId: 'u1', reviewerId: null, published: false, level: 5 },
];

function engine(when: unknown): PolicyEngine {
  return new PolicyEngine({
    policy: {
      version: 1,
      roles: { user: {} },
      policies: [
        {
          id: 'p',
          rules: [
            { id: 'r', effect: 'allow', roles: ['user'], actions: ['read'], resources: ['docs/*'], when },
          ],
        },
      ],
    } as PolicyDocument,
  });
}

describe('scopeQuery on SQLite', () => {
  let dir: string;
  let ds: DataSource;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-scope-'));
    ds = await new DataSource({
      type: 'better-sqlite3',
      database: path.join(dir, 'scope.sqlite'),
      entities: [DocSchema],
      synchronize: true,
    } as DataSourceOptions).initialize();
    await ds.getRepository(DocSchema).save(ROWS);
  });
  afterAll(async () => {
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const subject = { id: 'u1', roles: ['user'], maxLevel: 3 };
  const ids = async (when: unknown, attributes?: Record<string, string>) => {
    const scope = engine(when).queryScope(subject, 'read', 'docs');
    const qb = ds.getRepository(DocSchema).createQueryBuilder('d').orderBy('d.id');
    const rows = await scopeQuery(qb, scope, attributes ? { attributes } : {}).getMany();
    // The database agrees with the engine's own evaluation of the same scope.
    const named = (r: Doc) => ({ ...r, id: String(r.id), ...(attributes ? { owner: r.authorId } : {}) });
    expect(rows.map((r) => r.id)).toEqual(ROWS.filter((r) => matchesScope(scope, named(r))).map((r) => r.id));
    return rows.map((r) => r.id);
  };

  it('translates ownership, NULL-safe negation, booleans, ordering and two-column comparisons', async () => {
    expect(await ids({ attr: 'resource.authorId', eq: { ref: 'subject.id' } })).toEqual([1, 4]);
    // A row without an author is not "someone else's": ne is false on NULL, as in the engine.
    expect(await ids({ attr: 'resource.authorId', ne: { ref: 'subject.id' } })).toEqual([2]);
    expect(await ids({ not: { attr: 'resource.authorId', eq: { ref: 'subject.id' } } })).toEqual([2, 3]);
    expect(await ids({ attr: 'resource.published', eq: true })).toEqual([1, 3]);
    expect(await ids({ attr: 'resource.level', lte: { ref: 'subject.maxLevel' } })).toEqual([1, 2]);
    expect(await ids({ attr: 'resource.authorId', eq: { ref: 'resource.reviewerId' } })).toEqual([2]);
    expect(await ids({ attr: 'resource.owner', eq: { ref: 'subject.id' } }, { owner: 'authorId' })).toEqual([
      1, 4,
    ]);
  });

  it('refuses an attribute that is not a column (ERR_POLICY_UNTRANSLATABLE), never ignoring it', () => {
    const scope = engine({ attr: 'resource.ownerId', eq: { ref: 'subject.id' } }).queryScope(
      subject,
      'read',
      'docs',
    );
    const qb = ds.getRepository(DocSchema).createQueryBuilder('d');
    expect(() => scopeQuery(qb, scope)).toThrow(
      expect.objectContaining({ code: ErrorCodes.POLICY_UNTRANSLATABLE }),
    );
  });

  it('keeps an earlier orWhere inside the scope (A OR B AND scope lists no foreign row)', async () => {
    const scope = engine({ attr: 'resource.authorId', eq: { ref: 'subject.id' } }).queryScope(
      subject,
      'read',
      'docs',
    );
    const raw = ds.getRepository(DocSchema).createQueryBuilder('d').where('d.published = 1 OR d.level = 3');
    expect((await scopeQuery(raw, scope).getMany()).map((r) => r.id)).toEqual([1]);
    const chained = ds
      .getRepository(DocSchema)
      .createQueryBuilder('d')
      .where('d.published = :p', { p: 1 })
      .orWhere('d.level = :l', { l: 3 })
      .orderBy('d.id');
    // Without the bracket: published OR (level = 3 AND own) lists row 3 (no author).
    expect((await scopeQuery(chained, scope).getMany()).map((r) => r.id)).toEqual([1]);
  });

  it('refuses a where or orWhere after the scope (ERR_TYPEORM_UNSUPPORTED_QUERY)', async () => {
    const scope = engine({ attr: 'resource.authorId', eq: { ref: 'subject.id' } }).queryScope(
      subject,
      'read',
      'docs',
    );
    const qb = scopeQuery(ds.getRepository(DocSchema).createQueryBuilder('d'), scope);
    expect(() => qb.orWhere('1 = 1')).toThrow(
      expect.objectContaining({ code: 'ERR_TYPEORM_UNSUPPORTED_QUERY' }),
    );
    expect(() => qb.where('1 = 1')).toThrow(
      expect.objectContaining({ code: 'ERR_TYPEORM_UNSUPPORTED_QUERY' }),
    );
    expect((await qb.andWhere('d.published = 0').getMany()).map((r) => r.id)).toEqual([4]);
  });

  it('binds subject values as parameters, never as SQL text', async () => {
    const scope = engine({ attr: 'resource.authorId', eq: { ref: 'subject.id' } }).queryScope(
      { id: "u1' OR '1'='1", roles: ['user'] },
      'read',
      'docs',
    );
    const qb = scopeQuery(ds.getRepository(DocSchema).createQueryBuilder('d'), scope);
    expect(qb.getSql()).not.toContain("OR '1'");
    expect(await qb.getMany()).toEqual([]);
  });
});
