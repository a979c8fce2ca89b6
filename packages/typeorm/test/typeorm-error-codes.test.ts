import { BulwarkError, ErrorCodes } from '@bulwark/core';
import { problemFor } from '@bulwark/core/http';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from '../src';

describe('TypeORM adapter error codes', () => {
  it('keeps the code strings applications branch on (renaming one is breaking)', () => {
    expect(TypeOrmErrorCodes).toEqual({
      UNSUPPORTED_QUERY: 'ERR_TYPEORM_UNSUPPORTED_QUERY',
      PLAINTEXT_IN_ENCRYPTED_COLUMN: 'ERR_TYPEORM_PLAINTEXT_IN_ENCRYPTED_COLUMN',
      WRITE_CONTEXT_REQUIRED: 'ERR_TYPEORM_WRITE_CONTEXT_REQUIRED',
      NOT_DECRYPTED: 'ERR_TYPEORM_NOT_DECRYPTED',
      NOT_CONFIGURED: 'ERR_TYPEORM_NOT_CONFIGURED',
      INVALID_VALUE: 'ERR_TYPEORM_INVALID_VALUE',
      ROW_UNREADABLE: 'ERR_TYPEORM_ROW_UNREADABLE',
      ROW_NOT_WRITTEN: 'ERR_TYPEORM_ROW_NOT_WRITTEN',
      CONCURRENT_UPDATE: 'ERR_TYPEORM_CONCURRENT_UPDATE',
      LEGACY_DECRYPT_FAILED: 'ERR_TYPEORM_LEGACY_DECRYPT_FAILED',
      LEGACY_CIPHERTEXT: 'ERR_TYPEORM_LEGACY_CIPHERTEXT',
      TRANSACTION_OPEN: 'ERR_TYPEORM_TRANSACTION_OPEN',
    });
  });

  it('declares them here, not in core (core knows no adapter)', () => {
    const coreCodes: string[] = Object.values(ErrorCodes);
    for (const code of Object.values(TypeOrmErrorCodes)) expect(coreCodes).not.toContain(code);
  });

  it('throws them as a BulwarkError of the one core the app holds', () => {
    const error = new BulwarkTypeOrmError(
      TypeOrmErrorCodes.NOT_CONFIGURED,
      'Patient used before registerBulwarkEncryption',
      {
        entity: 'Patient',
      },
    );
    expect(error).toBeInstanceOf(BulwarkError);
    expect(error.name).toBe('BulwarkTypeOrmError');
    expect(error.code).toBe('ERR_TYPEORM_NOT_CONFIGURED');
  });

  it.each(Object.values(TypeOrmErrorCodes))(
    'answers %s over HTTP with the generic 500, code kept for the audit',
    (code) => {
      const answer = problemFor(
        new BulwarkTypeOrmError(code, 'Patient.diagnosis: value at row 7', {
          entity: 'Patient',
          column: 'diagnosis',
        }),
        { requestId: 'r' },
      );
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({
        type: 'https://bulwark.dev/problems/internal',
        title: 'Internal Server Error',
        status: 500,
        detail: 'The server could not complete the request.',
        requestId: 'r',
      });
      expect(answer.errorCode).toBe(code);
    },
  );
});
