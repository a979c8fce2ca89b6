import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Post, Req, Res, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Authorize, BulwarkModule, Public, RequireConsent } from '../src';
import {
  adapterContract,
  type AdapterDriver,
  type ContractRoute,
} from '../../../test/support/adapter-contract';

interface NestRequest {
  params: Record<string, string>;
  body?: unknown;
  principal?: { id: string; roles?: readonly string[] };
}

/** A controller built from the contract's route table, with Bulwark's decorators applied by hand. */
function controllerFor(routes: ContractRoute[], isPublic: (path: string) => boolean): new () => object {
  class ContractRoutes {}
  const proto = ContractRoutes.prototype as unknown as Record<string, unknown>;
  routes.forEach((route, i) => {
    const key = `route${i}`;
    proto[key] = async (req: NestRequest, res: { status(code: number): void }) => {
      const out = await route.handle({
        params: req.params,
        body: req.body,
        principal: req.principal,
        csrfToken: () => {
          throw new Error('the NestJS driver does not run csrf');
        },
      });
      res.status(out.status ?? 200);
      return out.body;
    };
    Reflect.defineMetadata('design:paramtypes', [Object, Object], proto, key);
    Req()(proto, key, 0);
    Res({ passthrough: true })(proto, key, 1);
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    const decorators: MethodDecorator[] = [(route.method === 'get' ? Get : Post)(route.path)];
    if (isPublic(route.path)) decorators.push(Public() as MethodDecorator);
    if (route.authorize !== undefined) {
      const { action, resource } = route.authorize;
      decorators.push(
        Authorize(
          action,
          typeof resource === 'string' ? resource : (r) => resource(r.params as Record<string, string>),
        ),
      );
    }
    if (route.consent !== undefined) decorators.push(RequireConsent(route.consent));
    for (const decorate of decorators) decorate(proto, key, descriptor);
    Object.defineProperty(proto, key, descriptor);
  });
  Controller()(ContractRoutes);
  return ContractRoutes;
}

/**
 * NestJS has no `bulwark()` bundle, no router-level privacy router and no brute-force step: it runs
 * the contract's authenticate, requireConsent and inputGuard sections through BulwarkModule (the
 * contract's optional authentication is a @Public route).
 */
const driver: AdapterDriver = {
  name: 'nestjs',
  sections: ['authenticate', 'requireConsent', 'inputGuard'],
  async start(kit, options, routes) {
    const auth = options.authenticate;
    // Nest's optional authentication is the @Public route: every route public when `optional`.
    const isPublic = (path: string) =>
      auth === false ||
      auth?.optional === true ||
      (auth?.publicPaths ?? []).some((p) =>
        p.endsWith('/*') ? path.startsWith(p.slice(0, -1)) : p === path,
      );
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens: kit.tokens,
          authorizer: kit.authorizer,
          auditLog: kit.auditLog,
          consent: kit.consent,
          ...(auth !== false && auth?.schemes !== undefined
            ? { authentication: { schemes: auth.schemes } }
            : {}),
          ...(options.inputGuard !== undefined ? { inputGuard: options.inputGuard } : {}),
        }),
      ],
      controllers: [controllerFor(routes, isPublic)],
    })
    class ContractModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ContractModule] }).compile();
    const app: INestApplication = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer() as import('node:http').Server;
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        server.closeAllConnections();
        await app.close();
      },
    };
  },
};

adapterContract(driver);
