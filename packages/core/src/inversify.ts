// @bulwark/core/inversify: an inversify ContainerModule binding what createBulwark configured.
// inversify and reflect-metadata are optional peer dependencies of @bulwark/core, loaded only
// from this entry (reflect-metadata first, as inversify's decorators expect it).
import 'reflect-metadata';

export { bulwarkContainerModule, BULWARK_TYPES } from './container-module';
