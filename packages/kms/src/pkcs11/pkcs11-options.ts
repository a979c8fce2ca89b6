import { optionError } from '../lib/provider-errors';

/** Options shared by Pkcs11KeyProvider and createPkcs11MasterKey. */
export interface Pkcs11TokenOptions {
  /** Path of the vendor's PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  library: string;
  /** Label of the token that holds the master key (`softhsm2-util --init-token --label …`). */
  tokenLabel: string;
  /**
   * Label (CKA_LABEL) of the master key: an AES-256 secret key, one label per master-key
   * generation (`bulwark-master-v1`, `bulwark-master-v2`…). Letters, digits, `_ + = -`.
   */
  keyLabel: string;
  /**
   * The token's user PIN. Prefer the environment: when absent the PIN is read from
   * `env[pinVariable]` on first use. It is never logged nor put in an error.
   */
  pin?: string;
  /** Environment variable holding the user PIN (default `BULWARK_PKCS11_PIN`). */
  pinVariable?: string;
  /** Environment to read the PIN from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

const LABEL = /^[A-Za-z0-9_+=-]{1,64}$/;

/** Validates the token options eagerly (a bad option throws at construction). @internal */
export function checkTokenOptions(options: Pkcs11TokenOptions, path: string): void {
  if (options === null || typeof options !== 'object') throw optionError(path, 'an options object');
  if (typeof options.library !== 'string' || options.library === '') {
    throw optionError(`${path}.library`, 'the path of a PKCS#11 library');
  }
  if (typeof options.tokenLabel !== 'string' || options.tokenLabel === '' || options.tokenLabel.length > 32) {
    throw optionError(`${path}.tokenLabel`, 'a token label of 1 to 32 characters');
  }
  if (typeof options.keyLabel !== 'string' || !LABEL.test(options.keyLabel)) {
    throw optionError(`${path}.keyLabel`, `a key label matching ${String(LABEL)}`);
  }
  if (options.pin !== undefined && (typeof options.pin !== 'string' || options.pin === '')) {
    throw optionError(`${path}.pin`, 'a non-empty string');
  }
  if (
    options.pinVariable !== undefined &&
    (typeof options.pinVariable !== 'string' || options.pinVariable === '')
  ) {
    throw optionError(`${path}.pinVariable`, 'an environment variable name');
  }
}

/** The PIN from the option or the environment; names the variable, never the value. @internal */
export function resolvePin(options: Pkcs11TokenOptions, path: string): string {
  if (options.pin !== undefined) return options.pin;
  const variable = options.pinVariable ?? 'BULWARK_PKCS11_PIN';
  const pin = (options.env ?? process.env)[variable];
  if (pin === undefined || pin === '') {
    throw optionError(`${path}.pin`, `given, or set in the environment variable ${variable}`);
  }
  return pin;
}
