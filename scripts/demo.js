#!/usr/bin/env node
/**
 * `npm start`: a scripted walkthrough of Bulwark on a local key store and audit log in
 * ./demo-data (recreated each run). Uses the built packages, exactly as an app would.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dataDir = path.resolve(process.env.BULWARK_DEMO_DIR || path.join(root, 'demo-data'));
const bin = path.join(root, 'packages/core/dist/cli/bin.js');
if (!fs.existsSync(bin)) {
  console.error('packages/core is not built: run `npm run build` (npm start does it for you)');
  process.exit(2);
}
const bulwark = require('@bulwark/core');

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let step = 0;
const section = (title) => console.log(`\n${bold(`${++step}. ${title}`)}`);
const say = (text) => console.log(`   ${text}`);
const short = (s, n = 72) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** Runs the real CLI, shows the command and its output, returns stdout. */
function cli(args, expectCode = 0) {
  say(`$ bulwark ${args.join(' ')}`);
  const res = spawnSync(process.execPath, [bin, ...args], {
    cwd: dataDir,
    encoding: 'utf8',
    env: process.env,
  });
  const out = `${res.stdout}${res.stderr}`.trimEnd();
  if (out) console.log(out.replace(/^/gm, '     '));
  if (res.status !== expectCode) {
    throw new Error(`bulwark ${args.join(' ')} exited ${res.status}, expected ${expectCode}`);
  }
  return res.stdout;
}

/** Runs fn, which must throw a Bulwark error; prints its code. */
function expectRejected(label, fn) {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof bulwark.BulwarkError)) throw err;
    say(`${label}: rejected with ${err.code}`);
    return err;
  }
  throw new Error(`${label}: expected a typed rejection`);
}

async function expectRejectedAsync(label, fn) {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof bulwark.BulwarkError)) throw err;
    say(`${label}: rejected with ${err.code}`);
    return err;
  }
  throw new Error(`${label}: expected a typed rejection`);
}

async function main() {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  console.log(bold('Bulwark demo') + ` — working in ${path.relative(process.cwd(), dataDir) || '.'}/`);

  section('A master key and a data key, with the CLI');
  cli(['keys', 'master', '--out', 'master.key']);
  const storeArgs = ['--store', 'keys.json', '--master-key-file', 'master.key'];
  cli(['keys', 'generate', 'pii', ...storeArgs]);
  say('keys.json holds only wrapped keys: the master key never touches it.');

  const ring = await bulwark.KeyRing.open({
    provider: new bulwark.FileKeyProvider({ path: path.join(dataDir, 'master.key') }),
    store: new bulwark.FileKeyStore({ path: path.join(dataDir, 'keys.json') }),
  });

  section('Field encryption bound to its column and row');
  const email = 'ada.lovelace@example.com';
  const stored = ring.encrypt('pii', email, { aad: 'patients.email#42' });
  say(`patients.email for row 42 is stored as ${short(stored)}`);
  say(`decrypts to ${ring.decryptString(stored, { aad: 'patients.email#42' })}`);
  expectRejected('the same ciphertext copied to row 43', () =>
    ring.decryptString(stored, { aad: 'patients.email#43' }),
  );
  const parts = stored.split('.');
  parts[2] = String(Number(parts[2]) + 1);
  expectRejected('the header edited to claim another key version', () =>
    ring.decryptString(parts.join('.'), { aad: 'patients.email#42' }),
  );
  expectRejected('garbage instead of an envelope', () => ring.decryptString('not-an-envelope'));

  section('Equality lookups without plaintext: a blind index');
  const opts = { normalise: ['trim', 'lowercase'], bits: 32 };
  const indexed = ring.blindIndex('pii', email, opts);
  const typed = ring.blindIndex('pii', '  Ada.Lovelace@Example.com ', opts);
  say(`blind index of the stored email: ${indexed}`);
  say(`blind index of what a user typed: ${typed} -> ${indexed === typed ? 'match' : 'NO MATCH'}`);
  if (indexed !== typed) throw new Error('blind index mismatch');

  section('Key rotation: old values keep decrypting, rewrap moves them, retire closes the door');
  cli(['keys', 'rotate', 'pii', ...storeArgs]);
  await ring.refresh();
  say(`old envelope (v1) still decrypts: ${ring.decryptString(stored, { aad: 'patients.email#42' })}`);
  const rows = new Map([['42', stored]]);
  const report = await bulwark.rewrap(
    ring,
    [...rows].map(([id, value]) => ({ id, value, aad: `patients.email#${id}` })),
    { write: (id, value) => rows.set(id, value) },
  );
  say(
    `rewrap: ${report.rewrapped} re-encrypted, ${report.skipped} already current, ${report.failed.length} failed`,
  );
  say(`row 42 is now ${short(rows.get('42'))}`);
  cli(['keys', 'retire', 'pii', '--min-version', '2', ...storeArgs]);
  await ring.refresh();
  expectRejected('a leftover v1 copy (e.g. in an old backup)', () =>
    ring.decryptString(stored, { aad: 'patients.email#42' }),
  );
  cli(['keys', 'list', ...storeArgs]);

  section('Right to erasure that reaches backups: crypto-shredding');
  const note = await ring.encryptForSubject('patient-42', 'diagnosis: hypertension', { aad: 'notes.body' });
  say(`a note encrypted under patient-42's own key: ${short(note)}`);
  say(`decrypts to: ${await ring.decryptStringAsync(note, { aad: 'notes.body' })}`);
  await ring.shred('patient-42');
  await expectRejectedAsync('after shred(patient-42), every copy of that note', () =>
    ring.decryptStringAsync(note, { aad: 'notes.body' }),
  );
  await ring.close();

  section('Passwords: argon2id with OWASP parameters');
  const passwords = new bulwark.PasswordHasher();
  const hash = await passwords.hash('correct horse battery staple');
  say(`hash: ${short(hash, 60)}`);
  say(`parameters: ${JSON.stringify(passwords.params)}`);
  say(`verify(right password) = ${await passwords.verify(hash, 'correct horse battery staple')}`);
  say(`verify(wrong password) = ${await passwords.verify(hash, 'Tr0ub4dor&3')}`);

  section('Tokens: JWTs behind an algorithm allow-list');
  const key = await bulwark.generateSigningKey('EdDSA');
  const tokens = new bulwark.TokenService({
    algorithms: ['EdDSA'],
    signingKey: { key: key.privateKey },
    issuer: 'https://clinic.example',
    audience: 'clinic-api',
  });
  const token = await tokens.sign({ role: 'doctor' }, { subject: 'user-7' });
  const verified = await tokens.verify(token);
  say(`signed and verified a token for ${verified.payload.sub} (role ${verified.payload.role})`);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${token.split('.')[1]}.`;
  await expectRejectedAsync('the same claims with alg "none"', () => tokens.verify(unsigned));
  const [h, p, s] = token.split('.');
  const forged = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url')), role: 'admin' })}.${s}`;
  await expectRejectedAsync('the payload edited to role "admin"', () => tokens.verify(forged));

  section('A tamper-evident audit trail');
  cli(['audit', 'keygen', '--out', 'checkpoint.key']);
  const auditFile = path.join(dataDir, 'audit.jsonl');
  const log = await bulwark.AuditLog.open({ store: await bulwark.FileAuditStore.open({ path: auditFile }) });
  const actor = { id: 'user-7', type: 'user', ip: '203.0.113.7' };
  await log.append({ actor, action: 'auth.login', outcome: 'success', details: { password: 'hunter2' } });
  await log.append({
    actor,
    action: 'patient.read',
    resource: { type: 'patient', id: '42' },
    outcome: 'success',
  });
  await log.append({
    actor,
    action: 'patient.delete',
    resource: { type: 'patient', id: '42' },
    outcome: 'denied',
  });
  await log.append({
    actor,
    action: 'patient.export',
    resource: { type: 'patient', id: '42' },
    outcome: 'success',
  });
  const first = await log.get(1);
  say(`4 events appended; a password in the details is stored as ${JSON.stringify(first.details)}`);
  const proof = log.proveInclusion(3);
  say(
    `inclusion proof of entry 3 in a tree of ${proof.treeSize}: ${proof.proof.length} hashes, valid: ${bulwark.AuditLog.verifyInclusion(proof)}`,
  );
  await log.close();
  const auditArgs = ['--file', 'audit.jsonl'];
  cli(['audit', 'checkpoint', ...auditArgs, '--signing-key', 'checkpoint.key']);
  cli(['audit', 'verify', ...auditArgs, '--signing-key', 'checkpoint.key']);
  const original = fs.readFileSync(auditFile, 'utf8');
  say('an insider edits entry 3 to hide the denied delete ("denied" -> "success")...');
  const lines = original.trimEnd().split('\n');
  lines[2] = lines[2].replace('"denied"', '"success"');
  fs.writeFileSync(auditFile, lines.join('\n') + '\n');
  cli(['audit', 'verify', ...auditArgs, '--signing-key', 'checkpoint.key'], 1);
  say('...and then deletes the last entry instead:');
  fs.writeFileSync(auditFile, original.trimEnd().split('\n').slice(0, 3).join('\n') + '\n');
  cli(['audit', 'verify', ...auditArgs, '--signing-key', 'checkpoint.key'], 1);
  fs.writeFileSync(auditFile, original);
  say('restored: the original file verifies again');
  cli(['audit', 'verify', ...auditArgs, '--signing-key', 'checkpoint.key']);

  console.log(`\n${bold('Done.')} Everything the demo wrote is in ${dataDir}`);
}

main().catch((err) => {
  console.error(`\ndemo failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
