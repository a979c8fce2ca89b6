import * as path from 'node:path';
import { adoptDatabase } from './adopt-database';

/** `npm run adopt`: encrypts the populated database in DATA_DIR (default ./data) in place. */
const dataDir = process.env.DATA_DIR ?? path.join(__dirname, '..', '..', 'data');
adoptDatabase(dataDir, {
  onProgress: (p) => process.stdout.write(`\r${JSON.stringify(p)}`),
}).then(
  (report) => console.log(`\n${JSON.stringify(report, null, 2)}`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
