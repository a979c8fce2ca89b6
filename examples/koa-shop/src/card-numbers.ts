/** Card number helpers. Inputs are untrusted; nothing here ever logs or echoes a PAN. */

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'other';

export class CardInputError extends Error {
  constructor(
    readonly field: 'pan' | 'expiry' | 'cardholderName',
    message: string,
  ) {
    super(message);
    this.name = 'CardInputError';
  }
}

/** ISO/IEC 7812-1 check digit (Luhn). */
function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Digits only (spaces and dashes allowed in input), 12-19 digits, valid check digit. */
export function normalisePan(input: unknown): string {
  if (typeof input !== 'string' || !/^[0-9 -]{12,23}$/.test(input)) {
    throw new CardInputError('pan', 'pan must be 12 to 19 digits');
  }
  const digits = input.replace(/[ -]/g, '');
  if (digits.length < 12 || digits.length > 19 || !luhnValid(digits)) {
    throw new CardInputError('pan', 'pan is not a valid card number');
  }
  return digits;
}

export function brandOf(pan: string): CardBrand {
  if (pan.startsWith('4')) return 'visa';
  const two = Number(pan.slice(0, 2));
  const four = Number(pan.slice(0, 4));
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return 'mastercard';
  if (two === 34 || two === 37) return 'amex';
  if (pan.startsWith('6011') || pan.startsWith('65')) return 'discover';
  return 'other';
}

/** `MM/YY`, not in the past. */
export function normaliseExpiry(input: unknown, now = new Date()): string {
  const m = typeof input === 'string' ? /^(0[1-9]|1[0-2])\/(\d{2})$/.exec(input.trim()) : null;
  if (m === null) throw new CardInputError('expiry', 'expiry must be MM/YY');
  const month = Number(m[1]);
  const year = 2000 + Number(m[2]);
  if (year < now.getUTCFullYear() || (year === now.getUTCFullYear() && month < now.getUTCMonth() + 1)) {
    throw new CardInputError('expiry', 'the card has expired');
  }
  return `${m[1]}/${m[2]}`;
}

export function normaliseCardholderName(input: unknown): string {
  const name = typeof input === 'string' ? input.trim().replace(/\s+/g, ' ') : '';
  if (name.length < 2 || name.length > 80 || /[\p{Cc}<>]/u.test(name)) {
    throw new CardInputError('cardholderName', 'cardholderName must be 2 to 80 printable characters');
  }
  return name;
}

/** PCI DSS 3.4.1: display at most the last four digits. */
export function last4(pan: string): string {
  return pan.slice(-4);
}

export function maskPan(pan: string): string {
  return `•••• •••• •••• ${last4(pan)}`;
}
