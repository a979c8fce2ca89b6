import { createHmac } from 'node:crypto';
import type { TotpAlgorithm, TotpDigits } from './mfa-store';

/**
 * The RFC 6238 code for one time step: HOTP (RFC 4226 §5.3) over the big-endian 8-byte step
 * counter with dynamic truncation, reduced to `digits` decimal digits. Internal; tests use it
 * to play the authenticator app.
 */
export function totpCode(
  secret: Uint8Array,
  step: number,
  algorithm: TotpAlgorithm,
  digits: TotpDigits,
): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac(algorithm, secret).update(counter).digest();
  // RFC 4226 §5.4: the low 4 bits of the last byte pick the offset of a 31-bit big-endian value.
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4.2: T = floor((unix time - T0) / X), with T0 = 0. */
export function totpStep(ms: number, period: number): number {
  return Math.floor(ms / 1000 / period);
}
