import { BulwarkConfigError, ErrorCodes } from '../errors';
import { isPlainObject } from '../util/options';
import type { BulwarkConfig, BulwarkStores } from './bulwark-config';

/** One setting the production preset refuses: the config path and what to do about it. */
export interface ProductionProblem {
  readonly path: string;
  readonly message: string;
}

/** The variable the audit CLI and createBulwark read the audit HMAC key from. */
const AUDIT_HMAC_ENV = 'BULWARK_AUDIT_HMAC_KEY';

/**
 * Whether the production preset applies: `config.production` when set, else
 * `NODE_ENV === 'production'` (the convention Express, Koa and most hosts follow).
 */
export function isProduction(
  config: { production?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return config.production === undefined ? env.NODE_ENV === 'production' : config.production === true;
}

function obj(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

/**
 * The demo-grade settings of a config (ASVS 5.0 V13.3.1, V16.4.2): what a production deployment
 * must not run with. Each problem names its config path. Checked on the shape of the config only
 * (the engines validate the values themselves).
 */
export function productionProblems(
  config: BulwarkConfig,
  env: NodeJS.ProcessEnv = process.env,
): ProductionProblem[] {
  const problems: ProductionProblem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  const stores: BulwarkStores = obj(config.stores) ?? {};
  const memory = (value: unknown, path: string, what: string): void => {
    if (value === 'memory') add(path, `is "memory": ${what} is lost on restart and not shared by instances`);
  };

  const audit = obj(config.audit);
  if (audit === undefined) {
    add('audit', 'is required: security events must be recorded in a tamper-evident log (ASVS V16.4.2)');
  } else {
    memory(audit.store, 'audit.store', 'the audit trail');
    if (audit.hmacKey === undefined && !env[AUDIT_HMAC_ENV]) {
      add(
        'audit.hmacKey',
        `is required (or ${AUDIT_HMAC_ENV}): without it anyone with write access to the store can recompute the chain`,
      );
    }
    const checkpoint = obj(audit.checkpoint);
    if (checkpoint === undefined) {
      add('audit.checkpoint', 'is required: signed checkpoints catch a truncated or replaced log');
    } else {
      if (checkpoint.every === undefined) {
        add(
          'audit.checkpoint.every',
          'is required ({ entries } and/or { ms }): checkpoints must be signed on a schedule',
        );
      }
      memory(checkpoint.store, 'audit.checkpoint.store', 'every checkpoint');
    }
  }
  const keys = obj(config.keys);
  if (keys !== undefined) {
    memory(keys.store, 'keys.store', 'every data key (and so every encrypted value)');
    const masterKey = obj(keys.masterKey);
    if (masterKey?.insecureFilePermissions !== undefined) {
      add(
        'keys.masterKey.insecureFilePermissions',
        'is set: a master key file others can read is refused in production',
      );
    }
  }
  if (obj(config.tokens)?.allowMixedAlgorithmFamilies === true) {
    add(
      'tokens.allowMixedAlgorithmFamilies',
      'is true: mixed HS*/asymmetric allow-lists enable algorithm confusion',
    );
  }
  memory(obj(config.mfa)?.store, 'mfa.store', 'every MFA enrolment');
  memory(
    obj(config.revocation)?.store,
    'revocation.store',
    'every revoked token (a signed-out token works again)',
  );
  const sessions = obj(config.sessions);
  if (sessions !== undefined && sessions.store === undefined) {
    add(
      'sessions.store',
      'is required: without it every session is held in memory (lost on restart, not shared by instances)',
    );
  }
  const alerts = obj(config.alerts);
  if (alerts !== undefined && alerts.spool === undefined) {
    add(
      'alerts.spool',
      'is required: without it an alert a channel failed to take waits in memory (lost on restart)',
    );
  }
  if (obj(obj(config.authz)?.breakGlass) !== undefined && stores.breakGlass === undefined) {
    add(
      'stores.breakGlass',
      'is required with authz.breakGlass: grants held in memory are not seen by other instances',
    );
  }
  const privacy = obj(config.privacy);
  if (privacy !== undefined) {
    memory(obj(privacy.consent)?.store, 'privacy.consent.store', 'the consent record');
    const dsr = obj(privacy.dsr);
    memory(dsr?.store, 'privacy.dsr.store', 'every data-subject request');
    if (obj(dsr?.evidence)?.discardSecurityEvidence === true) {
      add(
        'privacy.dsr.evidence.discardSecurityEvidence',
        'is true: erasure would also destroy security evidence',
      );
    }
    // These registers are always built with a privacy section; without a store they live in memory.
    const registers: Array<[keyof BulwarkStores, string]> = [
      ['processors', 'the processor register'],
      ['breaches', 'the breach register'],
      ['retentionRules', 'the retention rules'],
      ['legalHolds', 'the legal holds'],
    ];
    if (privacy.processing !== undefined)
      registers.push(['processing', 'the record of processing activities']);
    for (const [name, what] of registers) {
      if (stores[name] === undefined) {
        add(`stores.${name}`, `is required: without it ${what} is held in memory (lost on restart)`);
      }
    }
  }
  return problems;
}

/** Throws one BulwarkConfigError (ERR_CONFIG_NOT_PRODUCTION_READY) listing every problem, or returns. */
export function assertProductionReady(config: BulwarkConfig, env: NodeJS.ProcessEnv = process.env): void {
  const problems = productionProblems(config, env);
  if (problems.length === 0) return;
  const lines = problems.map((p) => `  - ${p.path} ${p.message}`).join('\n');
  throw new BulwarkConfigError(
    ErrorCodes.CONFIG_NOT_PRODUCTION_READY,
    `createBulwark: the production preset (NODE_ENV=production or production: true) refuses ${problems.length} ` +
      `setting${problems.length === 1 ? '' : 's'}:\n${lines}\n` +
      'Fix each, or set production: false for a test or demo run.',
    { path: 'production', problems },
  );
}
