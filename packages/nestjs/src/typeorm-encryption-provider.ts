import type { Provider } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { BULWARK_OPTIONS, BULWARK_TYPEORM_ENCRYPTION } from './bulwark-tokens';
import type { BulwarkModuleOptions } from './bulwark-module-options';

/** What `registerBulwarkEncryption` returns (structural, so this file needs no @bulwark/typeorm types). */
export interface BulwarkTypeOrmEncryption {
  readonly subscriber: object;
  unregister(): void;
}

// @nestjs/typeorm and @bulwark/typeorm are optional peers: loaded only when `typeorm` is asked
// for, so applications without TypeORM do not need them installed.
function load<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `BulwarkModule typeorm: install ${name} to use the TypeORM integration`,
      { path: 'typeorm' },
      { cause: error },
    );
  }
}

/**
 * Registers the @bulwark/typeorm encryption subscriber on a @nestjs/typeorm DataSource once that
 * DataSource is initialised (TypeOrmModule's provider resolves to an initialised DataSource, and
 * injecting it orders this after it).
 */
export function typeOrmEncryptionProvider(dataSourceName?: string): Provider {
  const { getDataSourceToken } = load<typeof import('@nestjs/typeorm')>('@nestjs/typeorm');
  return {
    provide: BULWARK_TYPEORM_ENCRYPTION,
    inject: [BULWARK_OPTIONS, getDataSourceToken(dataSourceName)],
    useFactory: async (
      options: BulwarkModuleOptions,
      dataSource: unknown,
    ): Promise<BulwarkTypeOrmEncryption> => {
      const typeorm = options.typeorm;
      if (typeorm === undefined) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'BulwarkModule typeorm: forRootAsync({ typeorm }) was set but the factory returned no typeorm.keyRing',
          { path: 'typeorm.keyRing' },
        );
      }
      const { registerBulwarkEncryption } = load<typeof import('@bulwark/typeorm')>('@bulwark/typeorm');
      return registerBulwarkEncryption(dataSource as Parameters<typeof registerBulwarkEncryption>[0], {
        keyRing: typeorm.keyRing,
        ...(typeorm.defaultKeyId !== undefined ? { defaultKeyId: typeorm.defaultKeyId } : {}),
        ...(typeorm.createKeys !== undefined ? { createKeys: typeorm.createKeys } : {}),
      });
    },
  };
}
