/*
 * Child process for the time-zone suite of encrypt-existing-rows-hardening.test.ts: a time zone
 * is a process setting (TZ), which a jest worker cannot change for itself. Plain CommonJS over the
 * BUILT package (packages/typeorm/dist), run with TZ set by the test.
 *
 *   TZ=America/New_York node tz-dates-worker.js <json config>
 *   config: { type: 'better-sqlite3', database } | { type: 'postgres', url, schema } | { type: 'mariadb', url }
 *
 * Prints one JSON line: the zone offset in force, what the transitional read mode served, the
 * migration's report (ids and codes only), and what a refuse-mode read gives after it.
 */
'use strict';
require('reflect-metadata');
const { DataSource, Entity, PrimaryColumn } = require('typeorm');
const { EnvKeyProvider, KeyRing, MemoryKeyStore, generateMasterKey } = require('@bulwark/core');
const { EncryptedField, encryptExistingRows, registerBulwarkEncryption } = require('../../dist/index.js');

class Visit {}
PrimaryColumn({ type: 'integer' })(Visit.prototype, 'id');
EncryptedField({ type: 'date', nullable: true })(Visit.prototype, 'seenAt');
EncryptedField({ type: 'number', nullable: true })(Visit.prototype, 'count');
Entity('eh_tz_visit')(Visit);

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const ds = await new DataSource({
    ...cfg,
    entities: [Visit],
    synchronize: true,
    logging: false,
  }).initialize();
  const keyRing = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
    store: new MemoryKeyStore(),
  });
  const my = cfg.type === 'mariadb';
  // Plain SQL below is written with "quotes" and ? placeholders; MariaDB quotes with backticks.
  const sql = (text) => (my ? text.replace(/"/g, '`') : text);
  const t = cfg.type === 'postgres' ? `"${cfg.schema}"."eh_tz_visit"` : '"eh_tz_visit"';
  const instant = new Date('2024-03-01T10:00:00.000Z');
  const out = { offset: new Date(2024, 2, 1, 12).getTimezoneOffset() };
  if (cfg.type === 'postgres') {
    // A `timestamp` column TypeORM wrote through pg (local wall time), ALTERed to text as the
    // guide's recipe does; and a `timestamptz` one.
    await ds.query(
      `INSERT INTO ${t} ("id", "seenAt", "count") VALUES (1, ($1::timestamp)::text, '42'), (3, ($2::timestamptz)::text, NULL)`,
      [instant, instant],
    );
  } else if (my) {
    // A `datetime` column TypeORM wrote through mysql2 (local wall time), then MODIFYed to text.
    await ds.query(
      sql(`INSERT INTO ${t} ("id", "seenAt", "count") VALUES (1, CAST(CAST(? AS DATETIME) AS CHAR), '42')`),
      [instant],
    );
  } else {
    // What TypeORM writes for a SQLite `datetime` column: UTC text without an offset.
    await ds.query(`INSERT INTO ${t} ("id", "seenAt", "count") VALUES (1, ?, '42')`, [
      '2024-03-01 10:00:00.000',
    ]);
  }
  await ds.query(sql(`INSERT INTO ${t} ("id", "seenAt", "count") VALUES (2, NULL, '9007199254740993')`));
  let reg = await registerBulwarkEncryption(ds, {
    keyRing,
    plaintextReads: 'accept',
    onWarning: () => undefined,
  });
  const repo = ds.getRepository(Visit);
  out.accepted = (await repo.findOneByOrFail({ id: 1 })).seenAt.toISOString();
  out.bigRead = await repo.findOneBy({ id: 2 }).then(
    () => 'served',
    (e) => ({ code: e.code, leaksValue: String(e.message).includes('9007199254740993') }),
  );
  const report = await encryptExistingRows(ds, { entities: [Visit] });
  out.ok = report.ok;
  out.failed = report.columns.map((c) => ({ column: c.column, failed: c.failed }));
  out.bigLeft = (await ds.query(sql(`SELECT "count" FROM ${t} WHERE "id" = 2`)))[0].count;
  await ds.query(sql(`DELETE FROM ${t} WHERE "id" = 2`));
  reg.unregister();
  reg = await registerBulwarkEncryption(ds, { keyRing });
  const rows = await repo.find({ order: { id: 'ASC' } });
  out.after = rows.map((r) => ({ id: r.id, seenAt: r.seenAt.toISOString(), count: r.count }));
  reg.unregister();
  await keyRing.close();
  await ds.destroy();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
