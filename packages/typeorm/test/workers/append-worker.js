/*
 * Child process for the multi-process and crash suites. Plain CommonJS over the BUILT packages
 * (packages/typeorm/dist, packages/core/dist through the workspace link), so it runs as a real,
 * separate Node process with no ts-jest in between.
 *
 *   node append-worker.js <json config>
 *   config: { url, schema?, worker, count, burst, mode: 'count' | 'loop' }
 *
 * mode 'count': appends `count` events in bursts of 1..`burst` concurrent appends, then closes.
 * mode 'loop': appends forever in bursts, printing "ack <seq>" for each acknowledged append
 *   (printed only after append() resolved, i.e. after COMMIT), until killed.
 */
'use strict';
const { AuditLog } = require('@bulwark/core');
const { createAuditDataSource, TypeOrmAuditStore } = require('../../dist/index.js');

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const dataSource = await createAuditDataSource({ url: cfg.url, schema: cfg.schema, migrate: false });
  const store = new TypeOrmAuditStore(dataSource, { destroyDataSourceOnClose: true });
  const log = await AuditLog.open({ store });
  const evt = (i) => ({
    actor: { id: `worker-${cfg.worker}`, type: 'service' },
    action: 'load.append',
    resource: { type: 'counter', id: String(i) },
    outcome: 'success',
    details: { i, pid: process.pid },
  });
  if (cfg.mode === 'loop') {
    process.stdout.write('ready\n');
    for (let i = 0; ; i += cfg.burst) {
      await Promise.all(
        Array.from({ length: cfg.burst }, (_, j) =>
          log.append(evt(i + j)).then((e) => process.stdout.write(`ack ${e.seq}\n`)),
        ),
      );
    }
  }
  // Start barrier: report ready, then wait for "go" on stdin so every worker appends at the same
  // time (process start-up on a loaded machine would otherwise serialise them).
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  // Bursts of 1..burst concurrent appends: AuditLog group-commits each burst into one transaction,
  // and bursts of different sizes make the workers' transactions interleave irregularly.
  for (let i = 0; i < cfg.count;) {
    const n = Math.min(1 + Math.floor(Math.random() * cfg.burst), cfg.count - i);
    await Promise.all(Array.from({ length: n }, (_, j) => log.append(evt(i + j))));
    i += n;
  }
  await log.close();
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
