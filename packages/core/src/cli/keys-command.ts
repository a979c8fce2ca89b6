import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  EnvKeyProvider,
  FileKeyProvider,
  FileKeyStore,
  KeyRing,
  type AeadAlgorithm,
  type KeyInfo,
  type KeyProvider,
  generateMasterKey,
} from '../crypto/key-ring';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { writeFileAtomic } from '../util/write-file-atomic';

export const KEYS_HELP = `Usage: bulwark keys <command> [options]

Manage the data keys of a file key store. Data keys are wrapped by a master key (KEK) that
comes from --master-key-file or the BULWARK_MASTER_KEY environment variable (32 bytes,
base64url, base64 or hex); the store never holds a key in clear.

Commands:
  master [--out FILE]          Print (or write, mode 0600) a new random master key
  generate <keyId>             Create a data key (version 1, primary)
  rotate <keyId>               Add a new primary version; older versions keep decrypting
  retire <keyId> --min-version N
                               Stop decrypting versions below N (rewrap first!)
  list [--json]                Show keys, versions, states and ages
  check                        Unwrap every key version; exit 1 if any fails

Options:
  --store FILE                 Key store file (default: $BULWARK_KEY_STORE or .bulwark/keys.json)
  --master-key-file FILE       Read the master key from FILE instead of $BULWARK_MASTER_KEY
  --algorithm ALG              aes-256-gcm (default) or chacha20-poly1305 (generate only)
  --json                       Machine-readable output
  -h, --help                   Show this help

Exit codes: 0 ok, 1 check failed, 2 usage or configuration error.`;

const ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

export async function keysCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        store: { type: 'string' },
        'master-key-file': { type: 'string' },
        algorithm: { type: 'string' },
        'min-version': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message, KEYS_HELP);
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    io.stdout(KEYS_HELP + '\n');
    return sub === undefined && !values.help ? ExitCode.USAGE : ExitCode.OK;
  }

  if (sub === 'master') {
    const key = generateMasterKey();
    if (values.out) {
      await writeFileAtomic(path.resolve(io.cwd, values.out), key + '\n', 0o600);
      io.stdout(`wrote a new master key to ${values.out} (mode 0600); keep it out of version control\n`);
    } else {
      io.stdout(key + '\n');
    }
    return ExitCode.OK;
  }

  const needsKeyId = ['generate', 'rotate', 'retire'];
  if (!needsKeyId.includes(sub) && !['list', 'check'].includes(sub)) {
    throw new UsageError(`unknown keys command "${sub}"`, KEYS_HELP);
  }
  const keyId = rest[0];
  if (needsKeyId.includes(sub) && !keyId) throw new UsageError(`keys ${sub} needs a <keyId>`, KEYS_HELP);
  if (rest.length > (needsKeyId.includes(sub) ? 1 : 0)) {
    throw new UsageError(`unexpected argument "${rest[rest.length - 1]}"`, KEYS_HELP);
  }
  if (values.algorithm !== undefined && !ALGORITHMS.includes(values.algorithm as AeadAlgorithm)) {
    throw new UsageError(`--algorithm must be one of ${ALGORITHMS.join(', ')}, got "${values.algorithm}"`);
  }

  const storePath = path.resolve(
    io.cwd,
    values.store ?? io.env.BULWARK_KEY_STORE ?? path.join('.bulwark', 'keys.json'),
  );
  const provider: KeyProvider = values['master-key-file']
    ? new FileKeyProvider({ path: path.resolve(io.cwd, values['master-key-file']) })
    : new EnvKeyProvider({ env: io.env });
  const ring = await KeyRing.open({ provider, store: new FileKeyStore({ path: storePath }) });
  try {
    switch (sub) {
      case 'generate': {
        const info = await ring.createKey(keyId!, {
          algorithm: values.algorithm as AeadAlgorithm | undefined,
        });
        report(io, values.json, info, `created key "${info.keyId}" version ${info.primaryVersion}`);
        return ExitCode.OK;
      }
      case 'rotate': {
        const info = await ring.rotate(keyId!);
        report(
          io,
          values.json,
          info,
          `rotated "${info.keyId}": version ${info.primaryVersion} is now primary`,
        );
        return ExitCode.OK;
      }
      case 'retire': {
        const raw = values['min-version'];
        const min = raw === undefined ? NaN : Number(raw);
        if (!Number.isSafeInteger(min) || min < 1) {
          throw new UsageError(`keys retire needs --min-version <positive integer>, got "${raw ?? ''}"`);
        }
        const info = await ring.retire(keyId!, min);
        report(io, values.json, info, `"${info.keyId}": versions below ${min} can no longer decrypt`);
        return ExitCode.OK;
      }
      case 'list': {
        const keys = ring.list();
        if (values.json) io.stdout(JSON.stringify(keys, null, 2) + '\n');
        else io.stdout(formatKeyTable(keys, new Date()));
        return ExitCode.OK;
      }
      default: {
        // check: opening the ring already unwrapped every version; an unwrap failure throws above
        const keys = ring.list();
        const versions = keys.reduce((n, k) => n + k.versions.length, 0);
        io.stdout(`ok: ${keys.length} key(s), ${versions} version(s) unwrap with this master key\n`);
        return ExitCode.OK;
      }
    }
  } finally {
    await ring.close();
  }
}

function report(io: CliIo, json: boolean | undefined, info: KeyInfo, text: string): void {
  io.stdout(json ? JSON.stringify(info, null, 2) + '\n' : text + '\n');
}

/** A fixed-width table: key, version, state, algorithm, age in days. */
export function formatKeyTable(keys: KeyInfo[], now: Date): string {
  if (keys.length === 0) return 'no keys yet: create one with `bulwark keys generate <keyId>`\n';
  const rows = [['KEY', 'VERSION', 'STATE', 'ALGORITHM', 'CREATED', 'AGE (days)']];
  for (const key of keys) {
    for (const v of key.versions) {
      const ageDays = Math.floor((now.getTime() - Date.parse(v.createdAt)) / 86_400_000);
      rows.push([key.keyId, String(v.version), v.state, v.algorithm, v.createdAt, String(ageDays)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
