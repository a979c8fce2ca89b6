import { Control, type BerReader } from 'ldapts';

/** draft-behera-ldap-password-policy-10 §6.1: the request carries no value; the response says why. */
const PASSWORD_POLICY_OID = '1.3.6.1.4.1.42.2.27.8.5.1';

/** PasswordPolicyResponseValue.error (draft-behera §6.2). */
export const PASSWORD_POLICY_ERRORS = Object.freeze({
  passwordExpired: 0,
  accountLocked: 1,
  changeAfterReset: 2,
});

/**
 * The password policy control (OpenLDAP's ppolicy overlay, 389-ds, ...) sent with a bind: the
 * server's answer lands in `error` (a locked account, an expired password, a reset that must be
 * changed first) and `graceLoginsRemaining` / `secondsBeforeExpiration`. ldapts hands a response
 * control of an unknown type to the request control of the same OID, which is how it is read.
 * One instance per bind.
 */
export class PasswordPolicyControl extends Control {
  error?: number;
  graceLoginsRemaining?: number;
  secondsBeforeExpiration?: number;

  constructor() {
    super(PASSWORD_POLICY_OID, { critical: false });
  }

  protected override parseControl(reader: BerReader): void {
    if (reader.buffer.length === 0 || reader.readSequence() === null) return;
    const end = reader.offset + reader.length;
    while (reader.offset < end) {
      const tag = reader.peek();
      if (tag === 0xa0) {
        // warning [0] CHOICE { timeBeforeExpiration [0] INTEGER, graceAuthNsRemaining [1] INTEGER }
        reader.readSequence(0xa0);
        const inner = reader.peek();
        if (inner === 0x80) this.secondsBeforeExpiration = reader.readTag(0x80) ?? undefined;
        else if (inner === 0x81) this.graceLoginsRemaining = reader.readTag(0x81) ?? undefined;
        else return;
      } else if (tag === 0x81) {
        // error [1] ENUMERATED
        this.error = reader.readTag(0x81) ?? undefined;
      } else return;
    }
  }
}
