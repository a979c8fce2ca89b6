import * as path from 'node:path';
import { ComplianceSigner } from '@bulwark/core';
import { writeFileAtomic } from '@bulwark/core/store';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { loadKit, readJwkFile } from './kit-config';

const OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    help: 'JS module returning your ComplianceKit (as for `bulwark report --config`)',
  },
  'private-key': {
    type: 'string',
    arg: 'FILE',
    help: 'Private Ed25519 JWK that signs the snapshot (from `bulwark evidence keygen`)',
  },
  'key-id': { type: 'string', arg: 'ID', help: 'Key id put in the signature header (default: the JWK kid)' },
  out: {
    type: 'string',
    arg: 'FILE',
    help: 'Where to write (collect: the snapshot; keygen: the private key)',
  },
  'verify-audit': {
    type: 'boolean',
    help: 'Verify the audit chain before collecting, so the verification evidence is fresh',
  },
} as const;

export const EVIDENCE_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark evidence',
  description:
    'Signed evidence snapshots: collect the evidence where the services run, sign it with a key\n' +
    'you name, and produce the report elsewhere with `bulwark report --config snapshot.json\n' +
    '--public-key FILE` (which refuses unsigned, tampered, wrongly signed or stale snapshots).',
  options: OPTIONS,
  subcommands: [
    {
      name: 'collect',
      args: '--config FILE --private-key FILE --out FILE',
      summary: 'Collect the kit evidence and attestations now and write a signed snapshot (JWS)',
      options: ['config', 'private-key', 'key-id', 'out', 'verify-audit'],
    },
    {
      name: 'keygen',
      args: '--out FILE [--key-id ID]',
      summary: 'New Ed25519 snapshot key: private JWK to FILE (0600), public JWK printed',
      options: ['out', 'key-id'],
    },
  ],
};

export const EVIDENCE_HELP = renderHelp(EVIDENCE_COMMAND);

export async function evidenceCommand(argv: string[], io: CliIo): Promise<number> {
  const { sub, values, positionals, help } = parseCommandLine(argv, EVIDENCE_COMMAND);
  if (sub === undefined) {
    io.stdout(EVIDENCE_HELP);
    return help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (help) {
    io.stdout(renderHelp(EVIDENCE_COMMAND, sub));
    return ExitCode.OK;
  }
  const hint = `bulwark evidence ${sub.name} --help`;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, hint);
  if (values.out === undefined) throw new UsageError(`${sub.name} needs --out FILE`, hint);
  const out = path.resolve(io.cwd, values.out);
  if (sub.name === 'keygen') {
    const signer = await ComplianceSigner.generate('snapshot', {
      ...(values['key-id'] === undefined ? {} : { kid: values['key-id'] }),
    });
    await writeFileAtomic(out, JSON.stringify(await signer.exportPrivateJwk()) + '\n', 0o600);
    io.stdout(JSON.stringify(await signer.exportPublicJwk()) + '\n');
    return ExitCode.OK;
  }
  if (values.config === undefined)
    throw new UsageError('collect needs --config FILE (a module returning your ComplianceKit)', hint);
  if (values['private-key'] === undefined)
    throw new UsageError(
      'collect needs --private-key FILE (make one with `bulwark evidence keygen --out FILE`)',
      hint,
    );
  const jwk = await readJwkFile(values['private-key'], io, 'private-key');
  const signer = await ComplianceSigner.fromJWK('snapshot', jwk, {
    ...(values['key-id'] === undefined ? {} : { kid: values['key-id'] }),
    path: 'private-key',
  });
  const kit = await loadKit(path.resolve(io.cwd, values.config), io, hint);
  if (values['verify-audit']) await kit.verifyAuditLog();
  const snapshot = await kit.snapshot({ privateKey: signer });
  await writeFileAtomic(out, JSON.stringify(snapshot, null, 2) + '\n', 0o644);
  io.stdout(
    `wrote signed evidence snapshot to ${values.out}${signer.kid === undefined ? '' : ` (key ${signer.kid})`}\n`,
  );
  return ExitCode.OK;
}
