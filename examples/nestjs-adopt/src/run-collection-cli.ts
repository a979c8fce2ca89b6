import { randomBytes } from 'node:crypto';
import { runCollection } from './api-collection';

/** `npm run collection -- http://127.0.0.1:3002`: runs api/collection.json, exits 1 on a mismatch. */
const url = process.argv[2] ?? 'http://127.0.0.1:3002';
runCollection(url, randomBytes(4).toString('hex')).then(
  (results) => {
    for (const r of results)
      console.log(
        `${r.problems.length === 0 ? 'ok  ' : 'FAIL'} ${r.status} ${r.name}${r.problems.length ? `: ${r.problems.join('; ')}` : ''}`,
      );
    process.exit(results.every((r) => r.problems.length === 0) ? 0 : 1);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
