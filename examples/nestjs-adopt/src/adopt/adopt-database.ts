import 'reflect-metadata';
import {
  encryptExistingRows,
  registerBulwarkEncryption,
  type EncryptExistingRowsReport,
  type EncryptProgress,
} from '@bulwark/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { appDatabase } from '../databases';
import { loadSecrets } from '../secrets';
import { SecuredUser } from '../users/user.secured-entity';
import { openBulwark, USERS_KEY_ID } from './bulwark-wiring';

/**
 * The data side of the adoption, run once on the populated database (the app may keep running in
 * mode `before` meanwhile: every row is updated with compare-and-set):
 *   1. the schema moves to SecuredUser (`email` and `bio` text, `emailIndex` added and indexed,
 *      the UNIQUE constraint on the e-mail dropped: the app checks it through the blind index);
 *   2. `encryptExistingRows` encrypts every plaintext e-mail and bio in place, in batches, fills
 *      the blind index, and verifies at the end (no plaintext left, every envelope opens);
 *   3. VACUUM: SQLite keeps freed pages (the old plaintext rows) in the file until it is rebuilt
 *      (`secure_delete` zeroes pages freed from then on). On PostgreSQL run VACUUM FULL.
 */
export async function adoptDatabase(
  dataDir: string,
  options: { batchSize?: number; onProgress?: (p: EncryptProgress) => void } = {},
): Promise<EncryptExistingRowsReport> {
  const secrets = await loadSecrets(dataDir);
  const bulwark = await openBulwark(dataDir, secrets, { audit: false });
  const ds = new DataSource(appDatabase(dataDir, 'after') as DataSourceOptions);
  try {
    await ds.initialize();
    const encryption = await registerBulwarkEncryption(ds, {
      keyRing: bulwark.kit.keyRing!,
      defaultKeyId: USERS_KEY_ID,
    });
    try {
      const report = await encryptExistingRows(ds, {
        entities: [SecuredUser],
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      });
      await ds.query('VACUUM');
      return report;
    } finally {
      encryption.unregister();
    }
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await bulwark.close();
  }
}
