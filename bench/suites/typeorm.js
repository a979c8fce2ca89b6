'use strict';

/**
 * TypeORM field encryption end to end: insert and load rows with two encrypted columns and one
 * blind index, through TypeORM 1.x on SQLite (better-sqlite3, a file in a temp dir) and
 * PostgreSQL (a schema of its own, dropped afterwards; skipped with a printed reason when the
 * server is unreachable). One operation = one row, so ops/s = rows/s.
 *
 * Implementations, all on the same row shape (id, email, fullName, emailIndex varchar(64) with a
 * B-tree index), each on its own DataSource (its own SQLite file / PostgreSQL pool) so no
 * implementation runs another's subscribers:
 * - typeorm            plain text columns: the baseline (the ORM and the database, no crypto).
 *                      emailIndex holds a precomputed 8-hex-digit value so the row has the same size.
 * - bulwark            @bulwark/typeorm: @EncryptedField email + fullName (AES-256-GCM, associated
 *                      data `<table>.<column>`, versioned bw2 envelope), @BlindIndex emailIndex
 *                      (HMAC-SHA256 of the trimmed, lower-cased email, 32 bits) computed on every
 *                      insert by the encryption subscriber, registerBulwarkEncryption on the DataSource.
 * - typeorm-encrypted  EncryptionTransformer (aes-256-gcm, 12-byte IV) as the column transformer of
 *                      email and fullName. It has no blind index, so emailIndex is a plain column
 *                      filled with the same precomputed value as the baseline's (it does no HMAC).
 *
 * - bulwark-lazy       (list case only) the same entity as bulwark with @EncryptedField({ lazy: true })
 *                      on both fields, on bulwark's DataSource: values decrypt on first access.
 *
 * Cases (10,000 rows each; --quick: 200):
 * - insert: repository.save() of new entities in chunks of 500 (one save call = one
 *   transaction); the table is emptied (untimed) after every timed round.
 * - load: repository.find() of the whole 10,000-row table, seeded once through the same
 *   implementation before timing.
 * - list: repository.find() of the same table, read as a list endpoint that does not show the
 *   encrypted fields would (each row's id and emailIndex are read, email / fullName never):
 *   typeorm (plaintext) vs bulwark (eager decryption) vs bulwark-lazy (lazy decryption). The lazy
 *   rows are checked afterwards (untimed): the fields were still undecrypted getters, and decrypt
 *   to the seeded values on access.
 *
 * How rows meet the harness (which counts run() calls): run() hands out one row of the last
 * database operation (a 500-row save or a 10,000-row find) and starts the next operation when
 * the previous one's rows are used up, so the time of each operation is spread over its rows.
 * Once the harness's round size is known (two equal call counts between consecutive `check`
 * calls: from the 4th timed round on, 7 of the 10), the last operation of a round is sized to end
 * exactly at the round's end (a save of fewer rows, or find({ take })), so every later round
 * times exactly the rows it counts. The first rounds carry at most one operation over their
 * boundaries; the median over the rounds absorbs that.
 *
 * Correctness before timing, for every implementation: the loaded values equal the inserted
 * ones, the raw column values read with SQL are not the plaintext (Bulwark: bw2 envelopes, and the
 * stored blind index equals blindIndex()); findByBlindIndex finds a row by its email; an envelope
 * copied into another column (raw SQL) fails to load (associated data). Every timed round's last
 * row is checked again, against the database.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUtf8 } = require('../lib/random-utf8');
const { costAtMost } = require('../lib/targets');

const FULL = { rows: 10_000, label: '10k', chunk: 500 };
const QUICK = { rows: 200, label: '200', chunk: 50 };

const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const IMPLS = ['typeorm', 'bulwark', 'typeorm-encrypted'];
const TABLE_PREFIX = { typeorm: 'bench_plain', bulwark: 'bench_bulwark', 'typeorm-encrypted': 'bench_te' };
const LIST_IMPLS = ['typeorm', 'bulwark', 'bulwark-lazy'];

// ---------------------------------------------------------------------------------------------
// loading

function loadModules() {
  let bulwarkCore;
  let bulwarkTypeorm;
  try {
    bulwarkCore = require('@bulwark/core');
    bulwarkTypeorm = require('@bulwark/typeorm');
  } catch (err) {
    throw new Error(`cannot load the built @bulwark packages (run \`npm run build\` first): ${err.message}`, {
      cause: err,
    });
  }
  const missing = [
    ...['KeyRing', 'EnvKeyProvider', 'MemoryKeyStore', 'generateMasterKey'].filter(
      (n) => !(n in bulwarkCore),
    ),
    ...['registerBulwarkEncryption', 'EncryptedField', 'BlindIndex', 'blindIndex', 'findByBlindIndex'].filter(
      (n) => !(n in bulwarkTypeorm),
    ),
  ];
  if (missing.length > 0) {
    throw new Error(
      `the built @bulwark packages do not export ${missing.join(', ')} (stale build? run \`npm run build\`)`,
    );
  }
  return {
    typeorm: require('typeorm'),
    bulwarkCore,
    bulwarkTypeorm,
    typeormEncrypted: require('typeorm-encrypted'),
  };
}

// ---------------------------------------------------------------------------------------------
// entities: plain JS has no decorator syntax, so the decorators are applied as functions

/** A class with a readable name (Bulwark's errors and TypeORM's metadata use it). */
function namedClass(name) {
  return { [name]: class {} }[name];
}

/**
 * One entity class per (impl, purpose). The same classes serve the SQLite and the PostgreSQL
 * DataSources: Bulwark's column transformers find the key ring through the one registered
 * encryption context (one per process), whose metadata then has the same table and column names.
 */
function defineEntities(mods, teTransformer) {
  const { Entity, PrimaryGeneratedColumn, Column, Index } = mods.typeorm;
  const { EncryptedField, BlindIndex } = mods.bulwarkTypeorm;
  const entities = {};
  for (const impl of IMPLS) {
    entities[impl] = {};
    for (const purpose of ['insert', 'load']) {
      const table = `${TABLE_PREFIX[impl]}_${purpose}`;
      const Cls = namedClass(table.replace(/(^|_)(\w)/g, (_, __, c) => c.toUpperCase()));
      const proto = Cls.prototype;
      Entity(table)(Cls);
      PrimaryGeneratedColumn()(proto, 'id');
      if (impl === 'bulwark') {
        EncryptedField({ type: 'string' })(proto, 'email');
        EncryptedField({ type: 'string' })(proto, 'fullName');
        BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })(proto, 'emailIndex');
      } else {
        const transformer = impl === 'typeorm-encrypted' ? { transformer: teTransformer } : {};
        Column({ type: 'text', ...transformer })(proto, 'email');
        Column({ type: 'text', ...transformer })(proto, 'fullName');
        // Same shape as @BlindIndex's column (varchar(64), nullable, indexed), filled by the bench.
        Column({ type: 'varchar', length: 64, nullable: true })(proto, 'emailIndex');
        Index()(proto, 'emailIndex');
      }
      // (@BlindIndex declares the database index of its column itself.)
      entities[impl][purpose] = Cls;
    }
  }
  // The lazy twin of bulwark's load table (same shape, same DataSource, decrypted on access).
  const Lazy = namedClass('BenchBulwarkLazy');
  Entity('bench_bulwark_lazy')(Lazy);
  PrimaryGeneratedColumn()(Lazy.prototype, 'id');
  EncryptedField({ type: 'string', lazy: true })(Lazy.prototype, 'email');
  EncryptedField({ type: 'string', lazy: true })(Lazy.prototype, 'fullName');
  BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })(Lazy.prototype, 'emailIndex');
  Index()(Lazy.prototype, 'emailIndex');
  entities['bulwark-lazy'] = { load: Lazy };
  return entities;
}

// ---------------------------------------------------------------------------------------------
// data

/** Seeded rows: a unique ASCII email and a UTF-8 full name (1- to 4-byte code points). */
function makeData(n) {
  const emails = new Array(n);
  const names = new Array(n);
  const plainIndex = new Array(n);
  const byEmail = new Map();
  for (let k = 0; k < n; k++) {
    emails[k] = `user${k}.${(k * 2654435761) % 1e9}@example.org`;
    names[k] = randomUtf8(24, 24 + k);
    // Stand-in for the peers' emailIndex column: as long as Bulwark's 32-bit index, not secret.
    plainIndex[k] = crypto.createHash('sha256').update(emails[k]).digest('hex').slice(0, 8);
    byEmail.set(emails[k], k);
  }
  return { n, emails, names, plainIndex, byEmail };
}

// ---------------------------------------------------------------------------------------------
// databases

function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable POSTGRES_URL)';
  }
}

async function openSqlite(mods, entityList) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-bench-typeorm-'));
  const dataSources = {};
  try {
    for (const impl of IMPLS) {
      dataSources[impl] = await new mods.typeorm.DataSource({
        type: 'better-sqlite3',
        database: path.join(dir, `${TABLE_PREFIX[impl]}.sqlite`),
        entities: entityList(impl),
        synchronize: true,
        logging: false,
      }).initialize();
    }
  } catch (err) {
    for (const ds of Object.values(dataSources)) await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    kind: 'sqlite',
    dataSources,
    table: (name) => `"${name}"`,
    async close() {
      for (const ds of Object.values(dataSources)) if (ds.isInitialized) await ds.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh schema on the PostgreSQL server, or undefined (with the reason logged) if unreachable. */
async function openPostgres(mods, entityList, log) {
  const { DataSource } = mods.typeorm;
  let admin;
  try {
    admin = await new DataSource({
      type: 'postgres',
      url: POSTGRES_URL,
      connectTimeoutMS: 3000,
    }).initialize();
  } catch (err) {
    log(`  typeorm: PostgreSQL cases SKIPPED: ${redactUrl(POSTGRES_URL)} is not reachable (${err.message})`);
    return undefined;
  }
  const schema = `bw_bench_${crypto.randomBytes(6).toString('hex')}`;
  const dataSources = {};
  const close = async () => {
    for (const ds of Object.values(dataSources)) if (ds.isInitialized) await ds.destroy();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.destroy();
    }
  };
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    for (const impl of IMPLS) {
      dataSources[impl] = await new DataSource({
        type: 'postgres',
        url: POSTGRES_URL,
        schema,
        entities: entityList(impl),
        synchronize: true,
        logging: false,
      }).initialize();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { kind: 'postgres', dataSources, table: (name) => `"${schema}"."${name}"`, close };
}

// ---------------------------------------------------------------------------------------------
// rows <-> harness calls

/**
 * Adapts an operation on many rows (`doOp(size) -> rows`) to the harness's one-call-per-operation
 * model: each run() returns one row of the last operation and starts the next operation when
 * they are used up. `roundEnd()` (called from the case's `check`, after every timed round) learns
 * the round size once two consecutive rounds had the same number of calls; from then on the last
 * operation of each round is cut to end exactly at the round's end. See the file comment.
 */
function rowPacer(opRows, doOp) {
  let rows = [];
  let next = 0;
  let sinceCheck = 0;
  let lastInterval = -1;
  let roundRows;
  let opsSinceCheck = 0;
  return {
    async run() {
      if (next === rows.length) {
        let size = opRows;
        if (roundRows !== undefined) {
          size = Math.min(opRows, roundRows - sinceCheck);
          if (size <= 0) {
            roundRows = undefined; // the harness changed its rhythm: back to whole operations
            size = opRows;
          }
        }
        rows = await doOp(size);
        opsSinceCheck++;
        next = 0;
        if (rows.length !== size)
          throw new Error(`expected ${size} rows from the database, got ${rows.length}`);
      }
      sinceCheck++;
      return rows[next++];
    },
    /** The last row of the last operation, if one ran since the last roundEnd(). */
    lastNewRow: () => (opsSinceCheck > 0 ? rows[rows.length - 1] : undefined),
    roundEnd() {
      const interval = sinceCheck;
      sinceCheck = 0;
      opsSinceCheck = 0;
      roundRows = interval > 0 && interval === lastInterval ? interval : undefined;
      lastInterval = interval;
      // Entering (or staying in) exact mode: rows done but not yet handed out belong to a round
      // that is already recorded; the next round starts with a fresh operation.
      if (roundRows !== undefined) next = rows.length;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// correctness

function fail(message) {
  throw new Error(message);
}

/** An entity as the application sees it: plaintext values matching the seeded row. */
function checkEntity(entity, data, where) {
  if (entity === null || typeof entity !== 'object') fail(`${where}: no entity`);
  if (typeof entity.id !== 'number' || !(entity.id > 0)) fail(`${where}: entity has no generated id`);
  const k = data.byEmail.get(entity.email);
  if (k === undefined) fail(`${where}: email of row ${entity.id} is not a seeded plaintext (not decrypted?)`);
  if (entity.fullName !== data.names[k])
    fail(`${where}: fullName of row ${entity.id} is not the inserted value`);
  return k;
}

/** The stored row, read with SQL around the ORM: never plaintext in the encrypted columns. */
async function checkStored(env, impl, Cls, entity, k) {
  const { data, mods } = env;
  const ds = dataSourceOf(env, impl);
  const table = ds.getMetadata(Cls).tableName;
  const param = env.db.kind === 'postgres' ? '$1' : '?';
  const [raw] = await ds.query(
    `SELECT "email", "fullName", "emailIndex" FROM ${env.db.table(table)} WHERE "id" = ${param}`,
    [entity.id],
  );
  if (raw === undefined) fail(`row ${entity.id} is not in ${table}`);
  if (impl === 'typeorm') {
    if (raw.email !== data.emails[k] || raw.fullName !== data.names[k])
      fail('plain columns do not hold the values');
    return;
  }
  for (const column of ['email', 'fullName']) {
    const plain = column === 'email' ? data.emails[k] : data.names[k];
    const stored = raw[column];
    if (typeof stored !== 'string' || stored === plain || stored.includes(plain)) {
      fail(`${table}.${column} holds the plaintext`);
    }
    if (impl.startsWith('bulwark') && !stored.startsWith('bw2.'))
      fail(`${table}.${column} does not hold a bw2 envelope`);
  }
  if (impl.startsWith('bulwark')) {
    const expected = mods.bulwarkTypeorm.blindIndex(Cls, 'emailIndex', data.emails[k]);
    if (raw.emailIndex !== expected) fail(`${table}.emailIndex is not the blind index of the email`);
  }
}

async function expectRejection(promise, what) {
  try {
    await promise;
  } catch {
    return;
  }
  fail(`accepted ${what}`);
}

// ---------------------------------------------------------------------------------------------
// cases

function newRow(env, impl, Cls, k) {
  const row = new Cls();
  row.email = env.data.emails[k];
  row.fullName = env.data.names[k];
  // Bulwark's subscriber computes the blind index; the peers get the stand-in value.
  if (impl !== 'bulwark') row.emailIndex = env.data.plainIndex[k];
  return row;
}

function insertCase(env) {
  const { db, data, settings } = env;
  const impls = {};
  for (const impl of IMPLS) {
    const Cls = env.entities[impl].insert;
    const repo = db.dataSources[impl].getRepository(Cls);
    let seq = 0;
    const pacer = rowPacer(settings.chunk, async (size) => {
      const rows = new Array(size);
      for (let j = 0; j < size; j++) rows[j] = newRow(env, impl, Cls, seq++ % data.n);
      await repo.save(rows);
      return rows;
    });
    impls[impl] = {
      impl,
      Cls,
      repo,
      pacer,
      run: pacer.run,
      async verify() {
        // A whole chunk through save(), back through find(), and the raw rows.
        await repo.clear();
        const rows = [];
        for (let k = 0; k < settings.chunk; k++) rows.push(newRow(env, impl, Cls, k));
        await repo.save(rows);
        for (const row of rows) checkEntity(row, data, 'after save');
        const loaded = await repo.find();
        if (loaded.length !== rows.length) fail(`saved ${rows.length} rows, found ${loaded.length}`);
        for (const entity of loaded) {
          await checkStored(env, impl, Cls, entity, checkEntity(entity, data, 'find'));
        }
        if (impl === 'bulwark') await verifyBulwark(env, repo, loaded[1]);
        await repo.clear();
      },
    };
  }
  return {
    name: `insert ${settings.label} ${db.kind}`,
    async check(entity, impl) {
      const entry = impls[impl];
      checkEntity(entity, data, 'saved entity');
      // The returned row may belong to an operation of an earlier round (already emptied away);
      // the last row saved in this round is in the table.
      const last = entry.pacer.lastNewRow();
      if (last !== undefined) {
        await checkStored(env, impl, entry.Cls, last, checkEntity(last, data, 'saved entity'));
      }
      // Untimed: every round inserts into an empty table.
      await entry.repo.clear();
      entry.pacer.roundEnd();
    },
    impls: IMPLS.map((impl) => impls[impl]),
  };
}

/** Bulwark only: blind-index lookup, and an envelope moved to another column must not load. */
async function verifyBulwark(env, repo, entity) {
  const { findByBlindIndex } = env.mods.bulwarkTypeorm;
  const k = env.data.byEmail.get(entity.email);
  const found = await findByBlindIndex(repo, 'emailIndex', `  ${env.data.emails[k].toUpperCase()} `);
  if (found.length !== 1 || found[0].id !== entity.id)
    fail('findByBlindIndex did not find the row by its email');
  const ds = env.db.dataSources.bulwark;
  const table = env.db.table(repo.metadata.tableName);
  const p = env.db.kind === 'postgres' ? '$1' : '?';
  await ds.query(`UPDATE ${table} SET "fullName" = "email" WHERE "id" = ${p}`, [entity.id]);
  await expectRejection(
    repo.findOneBy({ id: entity.id }),
    'an email envelope copied into fullName (associated data)',
  );
}

function loadCase(env) {
  const { db, data, settings } = env;
  const impls = IMPLS.map((impl) => {
    const Cls = env.entities[impl].load;
    const repo = db.dataSources[impl].getRepository(Cls);
    const pacer = rowPacer(data.n, (size) => (size === data.n ? repo.find() : repo.find({ take: size })));
    return {
      impl,
      run: pacer.run,
      pacer,
      async verify() {
        const loaded = await repo.find();
        if (loaded.length !== data.n) fail(`find() returned ${loaded.length} rows, expected ${data.n}`);
        const seen = new Set();
        for (const entity of loaded) seen.add(checkEntity(entity, data, 'find'));
        if (seen.size !== data.n) fail('find() did not return every seeded row');
        for (const entity of loaded.slice(0, 20)) {
          await checkStored(env, impl, Cls, entity, data.byEmail.get(entity.email));
        }
        if (impl === 'bulwark') {
          const { findByBlindIndex } = env.mods.bulwarkTypeorm;
          const target = loaded[loaded.length >> 1];
          const found = await findByBlindIndex(repo, 'emailIndex', target.email);
          if (found.length !== 1 || found[0].id !== target.id) fail('findByBlindIndex did not find the row');
        }
      },
    };
  });
  const byImpl = Object.fromEntries(impls.map((i) => [i.impl, i]));
  return {
    name: `load ${settings.label} ${db.kind}`,
    async check(entity, impl) {
      checkEntity(entity, data, 'loaded entity');
      byImpl[impl].pacer.roundEnd();
    },
    impls,
  };
}

/** The DataSource an implementation's tables live on (bulwark-lazy shares bulwark's). */
function dataSourceOf(env, impl) {
  return env.db.dataSources[impl === 'bulwark-lazy' ? 'bulwark' : impl];
}

/**
 * A list endpoint that shows no encrypted field: find() of the whole table, reading each row's id
 * and blind index only. Eager decryption pays for every value at load; lazy decryption for none.
 */
function listCase(env) {
  const { data, settings } = env;
  const impls = LIST_IMPLS.map((impl) => {
    const Cls = env.entities[impl].load;
    const repo = dataSourceOf(env, impl).getRepository(Cls);
    const list = async (options) => {
      const rows = await repo.find(options);
      let ids = 0;
      let indexed = 0;
      for (const row of rows) {
        ids += row.id;
        if (row.emailIndex !== null) indexed++;
      }
      if (ids <= 0 || indexed !== rows.length) fail('list rows lack their id or blind index');
      return rows;
    };
    const pacer = rowPacer(data.n, (size) => (size === data.n ? list() : list({ take: size })));
    return {
      impl,
      run: pacer.run,
      pacer,
      async verify() {
        const loaded = await list();
        if (loaded.length !== data.n) fail(`find() returned ${loaded.length} rows, expected ${data.n}`);
        if (impl === 'bulwark-lazy') {
          for (const entity of loaded) {
            if (typeof Object.getOwnPropertyDescriptor(entity, 'email')?.get !== 'function') {
              fail('a lazy email was decrypted at load');
            }
          }
        }
        const seen = new Set();
        for (const entity of loaded) seen.add(checkEntity(entity, data, 'list'));
        if (seen.size !== data.n) fail('find() did not return every seeded row');
        for (const entity of loaded.slice(0, 20)) {
          await checkStored(env, impl, Cls, entity, data.byEmail.get(entity.email));
        }
      },
    };
  });
  const byImpl = Object.fromEntries(impls.map((i) => [i.impl, i]));
  return {
    name: `list ${settings.label} ${env.db.kind}`,
    async check(entity, impl) {
      // Untimed: reading the fields here decrypts them (lazy) and checks their values.
      checkEntity(entity, data, 'listed entity');
      byImpl[impl].pacer.roundEnd();
    },
    impls,
  };
}

/** Fills every implementation's load table with the seeded rows, through its own save path. */
async function seedLoadTables(env) {
  for (const impl of [...IMPLS, 'bulwark-lazy']) {
    const Cls = env.entities[impl].load;
    const repo = dataSourceOf(env, impl).getRepository(Cls);
    for (let start = 0; start < env.data.n; start += env.settings.chunk) {
      const rows = [];
      for (let k = start; k < Math.min(start + env.settings.chunk, env.data.n); k++) {
        rows.push(newRow(env, impl, Cls, k));
      }
      await repo.save(rows);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// targets (matched by case name prefix / suffix, so quick runs with their smaller row counts and
// runs without PostgreSQL evaluate the cases that exist)

function onCases(description, matches, build) {
  return {
    description,
    evaluate(rows) {
      const cases = [...new Set(rows.map((row) => row.case))].filter(matches);
      if (cases.length === 0) return { met: false, detail: 'not measured (PostgreSQL skipped?)' };
      return build(cases).evaluate(rows);
    },
  };
}

module.exports = {
  name: 'typeorm',
  title: 'TypeORM rows with 2 encrypted columns + 1 blind index, ops = rows',
  baseline: 'typeorm',
  subject: 'bulwark',
  // Rounds of about half a second: each holds several whole database operations (a 10,000-row
  // find() of the plaintext table takes ~20-50 ms; a 500-row save ~10-20 ms).
  settings: { rounds: 10, roundMs: 500, warmupMs: 300 },
  targets: [
    onCases(
      'bulwark cost <= 1.00x typeorm-encrypted at every insert (although it also writes a blind index and binds associated data)',
      (name) => name.startsWith('insert '),
      (cases) => costAtMost({ baseline: 'typeorm-encrypted', max: 1.0, cases }),
    ),
    onCases(
      'bulwark cost <= 1.00x typeorm-encrypted at every load',
      (name) => name.startsWith('load '),
      (cases) => costAtMost({ baseline: 'typeorm-encrypted', max: 1.0, cases }),
    ),
    onCases(
      'bulwark cost <= 1.30x typeorm (plaintext columns) at load on PostgreSQL',
      (name) => name.startsWith('load ') && name.endsWith(' postgres'),
      (cases) => costAtMost({ baseline: 'typeorm', max: 1.3, cases }),
    ),
    onCases(
      'bulwark-lazy cost <= 1.30x typeorm (plaintext columns) at every list that does not read the encrypted fields (issue 20)',
      (name) => name.startsWith('list '),
      (cases) => costAtMost({ impl: 'bulwark-lazy', baseline: 'typeorm', max: 1.3, cases }),
    ),
  ],

  async setup({ quick, log }) {
    const mods = loadModules();
    const settings = quick ? QUICK : FULL;
    const teTransformer = new mods.typeormEncrypted.EncryptionTransformer({
      key: crypto.randomBytes(32).toString('hex'),
      algorithm: 'aes-256-gcm',
      ivLength: 12,
    });
    const entities = defineEntities(mods, teTransformer);
    const entityList = (impl) => [
      entities[impl].insert,
      entities[impl].load,
      ...(impl === 'bulwark' ? [entities['bulwark-lazy'].load] : []),
    ];
    const { KeyRing, EnvKeyProvider, MemoryKeyStore, generateMasterKey } = mods.bulwarkCore;
    const keyRing = await KeyRing.open({
      provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
      store: new MemoryKeyStore(),
    });
    const data = makeData(settings.rows);

    const dbs = [];
    const registrations = [];
    const close = async () => {
      for (const registration of registrations) registration.unregister();
      for (const db of dbs) await db.close();
      if (typeof keyRing.close === 'function') await keyRing.close();
    };
    const cases = [];
    try {
      dbs.push(await openSqlite(mods, entityList));
      const pg = await openPostgres(mods, entityList, log);
      if (pg) dbs.push(pg);
      for (const db of dbs) {
        registrations.push(
          await mods.bulwarkTypeorm.registerBulwarkEncryption(db.dataSources.bulwark, {
            keyRing,
            defaultKeyId: 'bench',
          }),
        );
      }
      for (const db of dbs) {
        const env = { mods, db, data, settings, entities };
        await seedLoadTables(env);
        cases.push(insertCase(env), loadCase(env), listCase(env));
      }
    } catch (err) {
      await close();
      throw err;
    }
    return { cases, close };
  },
};
