#!/usr/bin/env node
/**
 * `npm start`: boots examples/express-clinic (Express 5 + TypeORM on SQLite) in ./demo-data (or
 * $BULWARK_DEMO_DIR, recreated each run), drives a scripted walkthrough over real HTTP, verifies the
 * audit chain (in-app and with the `bulwark` CLI, then catches a tampered copy), writes the HTML
 * compliance report, prints where everything is, and keeps serving. `--once` exits after the
 * walkthrough (tests and CI).
 *
 * Everything runs on the built packages and the built example, exactly as an app would.
 */
/* global fetch */ // Node >= 18
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const DEFAULT_PORT = 3000;
const once = process.argv.includes('--once');
const dataDir = path.resolve(process.env.BULWARK_DEMO_DIR || path.join(root, 'demo-data'));
const exampleDist = path.join(root, 'examples/express-clinic/dist/app.js');
// The `bulwark` command as `npx bulwark` runs it: the committed shim, which loads the built CLI.
const bin = path.join(root, 'packages/cli/bin/bulwark.js');
for (const file of [exampleDist, path.join(root, 'packages/cli/dist/bin.js')]) {
  if (!fs.existsSync(file)) {
    console.error(
      `${path.relative(root, file)} is missing: run \`npm run build\` (npm start does it for you)`,
    );
    process.exit(2);
  }
}

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let step = 0;
const section = (title) => console.log(`\n${bold(`${++step}. ${title}`)}`);
const say = (text) => console.log(`   ${text}`);
const short = (s, n = 72) => (s.length > n ? `${s.slice(0, n)}…` : s);
const rel = (p) => path.relative(process.cwd(), p) || '.';

function check(condition, what) {
  if (!condition) throw new Error(`walkthrough check failed: ${what}`);
}

/** Runs the real CLI, shows the command and its output, returns stdout. */
function cli(args, expectCode = 0, env = {}) {
  say(`$ bulwark ${args.join(' ')}`);
  const res = spawnSync(process.execPath, [bin, ...args], {
    cwd: dataDir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const out = `${res.stdout}${res.stderr}`.trimEnd();
  if (out) console.log(out.replace(/^/gm, '     '));
  if (res.status !== expectCode) {
    throw new Error(`bulwark ${args.join(' ')} exited ${res.status}, expected ${expectCode}`);
  }
  return res.stdout;
}

/** A tiny HTTP client over fetch that prints each exchange as a one-line summary. */
function client(baseUrl) {
  return async function call(method, url, { token, body, quiet } = {}) {
    const res = await fetch(baseUrl + url, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!quiet) {
      const why = json && json.code ? ` ${json.code}${json.reasonId ? ` (${json.reasonId})` : ''}` : '';
      say(
        `${method.padEnd(6)} ${url.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, (id) => `${id.slice(0, 8)}…`)} -> ${res.status}${why}`,
      );
    }
    return { status: res.status, headers: res.headers, text, json };
  };
}

function prepareDir() {
  // The demo owns this folder and recreates it; refuse anything that is obviously not a demo folder.
  const forbidden = new Set([path.parse(dataDir).root, os.homedir(), root, process.cwd()]);
  if (forbidden.has(dataDir)) {
    console.error(`refusing to recreate ${dataDir}: point BULWARK_DEMO_DIR at a folder of its own`);
    process.exit(2);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function main() {
  prepareDir();
  const { createClinicApp, DEMO_USERS } = require(exampleDist);
  const password = (username) => DEMO_USERS.find((u) => u.username === username).password;
  console.log(`${bold('Bulwark demo')}: the express-clinic example, driven over HTTP`);

  section('Boot the clinic (Express 5 + TypeORM + SQLite) on a fresh data folder');
  const receiver = await startAlertReceiver();
  const clinic = await startClinic(createClinicApp, { url: receiver.url, secret: receiver.secret });
  clinic.alertReceiver = receiver;
  const http = client(clinic.url);
  say(`listening on ${clinic.url} (port ${new URL(clinic.url).port}), data in ${rel(dataDir)}/`);
  say(`generated DEMO-ONLY secrets there: ${clinic.generatedSecrets.join(', ')}`);
  say(`seeded ${DEMO_USERS.length} users (doctor, nurse, auditor, researcher, privacy officer, 2 patients)`);

  try {
    await walkthrough(clinic, http, password);
  } catch (err) {
    await clinic.close().catch(() => undefined);
    throw err;
  }

  if (once) {
    await clinic.close();
    await clinic.alertReceiver.close();
    console.log(`\n${bold('Done.')} Everything the demo wrote is in ${dataDir}`);
    return;
  }
  console.log(`\n${bold('Done.')} The clinic keeps serving at ${clinic.url}  (Ctrl-C to stop)`);
  say(`try: curl -s ${clinic.url}/  (endpoint list; logins are in examples/express-clinic/README.md)`);
  const stop = () => {
    clinic.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Whether a TCP port is free on 127.0.0.1 (checked before booting, so the boot happens once). */
function portFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * The port to serve on: any free one with --once; else $PORT, and when $PORT is set but taken the
 * demo stops with a clear message (you asked for that port); else 3000, or a free port (said out
 * loud) when 3000 is taken.
 */
async function choosePort() {
  if (once) return 0;
  const fromEnv = process.env.PORT;
  if (fromEnv !== undefined && fromEnv !== '') {
    const port = Number(fromEnv);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      fail(`PORT must be a port number (1-65535), got "${fromEnv}"`);
    }
    if (!(await portFree(port))) {
      fail(
        `port ${port} (from $PORT) is already in use on 127.0.0.1: stop what is listening there, ` +
          `or pick another port (PORT=${port + 1} npm start), or unset PORT to let the demo choose`,
      );
    }
    return port;
  }
  if (await portFree(DEFAULT_PORT)) return DEFAULT_PORT;
  say(`port ${DEFAULT_PORT} is already in use: serving on a free port instead (set PORT to choose one)`);
  return 0;
}

function fail(message) {
  console.error(`\ndemo: ${message}`);
  process.exit(2);
}

/**
 * The security team's side: a webhook receiver on 127.0.0.1 that checks every request with
 * Bulwark's Standard Webhooks verifier (signature, timestamp) before accepting it.
 */
async function startAlertReceiver() {
  const http = require('node:http');
  const { randomBytes } = require('node:crypto');
  const { verifyWebhook } = require('@bulwark/core');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const received = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      try {
        verifyWebhook(secret, raw, req.headers);
      } catch {
        res.statusCode = 401;
        res.end();
        return;
      }
      received.push(JSON.parse(raw.toString('utf8')).data);
      res.statusCode = 204;
      res.end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/alerts`,
    secret,
    received,
    /** Resolves when an alert matching `predicate` arrived (or after `ms`, with undefined). */
    async next(predicate, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = received.find(predicate);
        if (found || Date.now() > deadline) return found;
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function startClinic(createClinicApp, alertWebhook) {
  const port = await choosePort();
  // always SQLite in the demo folder, whatever DATABASE_URL says
  try {
    return await createClinicApp({ dataDir, databaseUrl: '', port, alertWebhook });
  } catch (err) {
    // Taken between the check and the listen (another process was quicker).
    if (err && err.code === 'EADDRINUSE') fail(`port ${port} was taken while the demo started: run it again`);
    throw err;
  }
}

async function walkthrough(clinic, http, password) {
  const login = async (username, pw = password(username), opts = {}) =>
    http('POST', '/auth/login', { body: { username, password: pw }, ...opts });

  section('Login: argon2id passwords, short-lived EdDSA JWTs, brute-force lockout');
  const wrong = await login('nurse.joy', 'not-the-password');
  check(wrong.status === 401, 'wrong password refused');
  const doctor = (await login('dr.grey')).json.token;
  const nurse = (await login('nurse.joy')).json.token;
  const auditor = (await login('auditor.ames')).json.token;
  const researcher = (await login('dr.curie')).json.token;
  const dpo = (await login('dpo.dana')).json.token;
  const alice = (await login('alice')).json.token;
  const bob = (await login('bob')).json.token;
  const claims = JSON.parse(Buffer.from(doctor.split('.')[1], 'base64url'));
  say(
    `dr.grey's token: alg EdDSA, roles ${JSON.stringify(claims.roles)}, expires in ${claims.exp - claims.iat} s`,
  );
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${doctor.split('.')[1]}.`;
  const forged = await http('GET', '/me', { token: unsigned, quiet: true });
  check(forged.status === 401, 'alg none refused');
  say(`the same claims with alg "none": ${forged.status} ${forged.json.code}`);
  let locked;
  for (let i = 1; i <= 8 && !locked; i++) {
    const res = await login('dr.curie', `guess-${i}`, { quiet: true });
    if (res.status === 429) locked = { res, after: i - 1 };
    await new Promise((r) => setImmediate(r));
  }
  check(locked, 'lockout after repeated failures');
  say(
    `guessing dr.curie's password: locked out after ${locked.after} failures -> 429, Retry-After ${locked.res.headers.get('retry-after')} s`,
  );
  await clinic.bulwark.auditLog.flush();
  await clinic.bulwark.threatDetector.flush();
  const alert = await clinic.alertReceiver.next((a) => a.rule === 'failed-login-burst');
  check(alert, 'the failed-login burst reached the security webhook');
  say(
    `security webhook received (signature verified): [${alert.severity.toUpperCase()}] ${alert.rule}: ${alert.message}`,
  );

  section('Read a record: PHI decrypted for the doctor, ciphertext in the database');
  const list = (await http('GET', '/patients', { token: doctor })).json;
  const aliceId = list.find((p) => p.fullName === 'Alice Martin').id;
  const bobId = list.find((p) => p.fullName === 'Bob Okafor').id;
  const record = (await http('GET', `/patients/${aliceId}`, { token: doctor })).json;
  say(
    `API: ${record.fullName}, born ${record.dateOfBirth}, diagnosis "${record.diagnosis}", SSN ***-**-${record.ssnLast4}`,
  );
  const [raw] = await clinic.dataSource.query(
    'SELECT "full_name", "diagnosis", "ssn_index" FROM "patient" WHERE "id" = ?',
    [aliceId],
  );
  check(raw.diagnosis.startsWith('bw2'), 'diagnosis stored encrypted');
  say(`database: diagnosis = ${short(raw.diagnosis, 60)}`);
  say(`          (encrypted under Alice's own key, bound to column and row; ssn_index = ${raw.ssn_index})`);
  const found = (await http('GET', '/patients/search?email=%20ALICE.Martin%40example.com', { token: nurse }))
    .json;
  check(found.length === 1 && found[0].id === aliceId, 'blind index lookup');
  say(
    `"ALICE.Martin@example.com" found ${found[0].fullName} through the blind index: no plaintext in any WHERE`,
  );

  section('Denied access: RBAC + patient-owns-record, every refusal audited');
  const nurseNotes = await http('GET', `/patients/${aliceId}/notes`, { token: nurse });
  const aliceOwn = await http('GET', `/patients/${aliceId}`, { token: alice });
  const aliceBob = await http('GET', `/patients/${bobId}`, { token: alice });
  const auditorPhi = await http('GET', `/patients/${aliceId}`, { token: auditor });
  check(nurseNotes.status === 403 && aliceOwn.status === 200 && aliceBob.status === 403, 'RBAC');
  check(auditorPhi.json.reasonId === 'separation_of_duties', 'explicit deny for auditors');
  say(
    'nurse -> clinical notes: denied; Alice -> her record: allowed; Alice -> Bob: denied; auditor -> PHI: denied',
  );

  section('Consent for research: required, honoured at once, withdrawn as easily');
  const refused = await http('POST', '/research/questionnaire', {
    token: alice,
    body: { answers: { sleep: 7 } },
  });
  check(refused.status === 403 && refused.json.code === 'ERR_CONSENT_REQUIRED', 'consent required');
  await http('POST', '/privacy/consents/research', { token: alice, body: {} });
  const accepted = await http('POST', '/research/questionnaire', {
    token: alice,
    body: { answers: { sleep: 7 } },
  });
  check(accepted.status === 202, 'consented questionnaire accepted');
  const cohort = (await http('GET', '/research/cohort', { token: researcher })).json;
  check(cohort.size === 1, 'cohort has the consenting patient');
  say(
    `researcher's cohort: ${cohort.size} patient, pseudonym ${cohort.cohort[0].pseudonym}, no name, no SSN`,
  );
  await http('DELETE', '/privacy/consents/research', { token: alice });
  const after = (await http('GET', '/research/cohort', { token: researcher, quiet: true })).json;
  check(after.size === 0, 'withdrawal removes the patient from research');
  say(`after withdrawal the cohort has ${after.size} patients`);

  section('Data-subject access: Alice exports her data');
  const exported = await http('POST', '/privacy/requests/export', { token: alice, body: { format: 'json' } });
  check(exported.status === 200, 'export');
  const exportFile = path.join(dataDir, 'export-alice.json');
  fs.writeFileSync(exportFile, exported.text);
  const doc = JSON.parse(exported.text);
  const records = (doc.sources || []).reduce((n, s) => n + (s.records ? s.records.length : 0), 0);
  say(
    `${rel(exportFile)}: ${records} records from ${(doc.sources || []).length} sources, every field labelled (phi, personal...)`,
  );

  section('Erasure: Bob asks, the privacy officer runs it, crypto-shredding reaches the copies');
  const [backup] = await clinic.dataSource.query('SELECT "diagnosis" FROM "patient" WHERE "id" = ?', [bobId]);
  say('(a "backup" of Bob\'s encrypted row is kept aside first)');
  const filed = await http('POST', '/privacy/requests/erasure', { token: bob, body: {} });
  const erased = await http('POST', `/dsr/requests/${filed.json.id}/erase`, { token: dpo });
  check(erased.status === 200 && erased.json.summary.shredded === true, 'erasure');
  const s = erased.json.summary;
  say(
    `receipt: sources ${s.sourcesErased.join(', ')}, key shredded: ${s.shredded}, ${s.auditRedacted} audit entries redacted`,
  );
  say(`signed receipt (JWS): ${short(erased.json.receipt, 60)}`);
  const gone = await http('GET', `/patients/${bobId}`, { token: doctor });
  check(gone.status === 404, 'record gone');
  const stale = await http('GET', '/me', { token: bob });
  check(stale.status === 401, 'stale token refused');
  try {
    await clinic.bulwark.keyRing.decryptStringAsync(backup.diagnosis, {
      aad: `patient.diagnosis#${JSON.stringify([bobId])}`,
    });
    throw new Error('walkthrough check failed: the backup still decrypts');
  } catch (err) {
    if (!err || err.code !== 'SUBJECT_SHREDDED') throw err;
    say(`the backup copy of Bob's diagnosis: rejected with ${err.code}`);
  }

  section('Audit: one event per request, a signed checkpoint, the chain verified');
  const denied = (
    await http('GET', '/audit/events?outcome=denied&limit=200', { token: auditor, quiet: true })
  ).json;
  const all = (await http('GET', '/audit/events?limit=200', { token: auditor, quiet: true })).json;
  say(
    `${all.entries.length} events so far, ${denied.entries.length} of them denials (latest: ${denied.entries[0].details.route})`,
  );
  const cp = await http('POST', '/audit/checkpoint', { token: auditor });
  say(`signed tree head: size ${cp.json.treeSize}, root ${short(cp.json.rootHash, 16)}`);
  const verified = await http('GET', '/audit/verify', { token: auditor });
  check(verified.json.ok === true, 'audit chain verifies');
  say(
    `verify: ok=${verified.json.ok}, ${verified.json.checkedEntries} entries, ${verified.json.checkpointsVerified} checkpoint(s), redacted entries included`,
  );
  // Reading the trail is a review only when the reviewer says so: the auditor records it, and the
  // report's log-review controls (HIPAA 164.308(a)(1)(ii)(D), PCI DSS 10.4.1) read that event.
  const reviewed = await http('POST', '/audit/reviews', {
    token: auditor,
    body: { scope: 'denied requests of the walkthrough' },
  });
  check(reviewed.status === 201, 'review recorded');
  // The CLI checks the same SQLite log independently of the app (as an auditor's machine would).
  await clinic.bulwark.auditLog.flush();
  const auditArgs = [
    '--hmac-key-file',
    'audit-hmac.key',
    '--checkpoints',
    'audit-checkpoints.jws',
    '--public-key',
    'audit-checkpoint-public.json',
  ];
  cli(['audit', 'verify', '--db', 'audit.sqlite', ...auditArgs]);
  const copy = path.join(dataDir, 'audit-tampered-copy.sqlite');
  const Database = require('better-sqlite3');
  const db = new Database(path.join(dataDir, 'audit.sqlite'), { readonly: true, timeout: 5000 });
  db.exec(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
  db.close();
  const tampered = new Database(copy);
  const seq = denied.entries[denied.entries.length - 1].seq;
  tampered.prepare(`UPDATE "bulwark_audit_entry" SET "outcome" = 'success' WHERE "seq" = ?`).run(seq);
  tampered.close();
  say(`an insider edits a copy of the log to turn denial #${seq} into a success...`);
  cli(['audit', 'verify', '--db', path.basename(copy), ...auditArgs], 1);

  section('Compliance report over live evidence');
  // A manual control needs a person: the DPO attests one (signed, expires, never counted as a pass).
  const manualControl = (await clinic.complianceReport('hipaa')).controls.find((c) => c.kind === 'manual');
  await clinic.bulwark.compliance.attest(manualControl.id, {
    by: 'Dana (DPO)',
    role: 'privacy-officer',
    statement: 'Security awareness training completed by all clinic staff (demo).',
    expiresAt: new Date(Date.now() + 365 * 86_400_000),
  });
  say(`Dana (DPO) attests ${manualControl.id} (${manualControl.title}): signed, shown as attested`);
  const reportFile = await clinic.writeHtmlReport(path.join(dataDir, 'compliance-report.html'));
  const report = await clinic.complianceReport('all');
  say(`evidence read live at ${report.metadata.evidence.collectedAt} for ${report.metadata.system}`);
  for (const f of report.frameworks) {
    say(
      `${f.name.padEnd(36)} ${String(f.passedFull).padStart(2)} pass (full), ${f.passedPartial} pass (partial), ` +
        `${f.failed} fail; ${f.attested} attested, ${f.unattested} unattested`,
    );
  }
  const failing = [
    ...new Set(
      report.controls
        .filter((c) => c.status === 'fail' || c.status === 'not-demonstrated')
        .map((c) => c.check),
    ),
  ];
  if (failing.length > 0) {
    say(`failing: ${failing.join(', ')} (what the example leaves out and why: see its README)`);
  }
  say(`HTML report: ${rel(reportFile)}`);

  section('Where everything is');
  const files = clinic.files;
  say(`API            ${clinic.url}  (GET / lists the endpoints)`);
  say(`data folder    ${dataDir}`);
  say(`clinic DB      ${rel(files.clinicDb)}   (sqlite3 it: PHI columns are bw2 envelopes)`);
  say(`audit log      ${rel(files.auditDb)}    checkpoints: ${rel(files.checkpoints)}`);
  say(`keys           ${rel(files.keyStore)} (wrapped)   master key: ${rel(files.masterKey)} (DEMO ONLY)`);
  say(`report         ${rel(reportFile)}`);
  say(`export         ${rel(exportFile)}`);
  say('logins         dr.grey / grey-demo-password, nurse.joy, auditor.ames, dr.curie, dpo.dana, alice');
  say(
    '               (password: the part after the dot + "-demo-password"; see examples/express-clinic/README.md)',
  );
}

main().catch((err) => {
  console.error(`\ndemo failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
