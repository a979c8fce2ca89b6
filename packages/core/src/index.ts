import 'reflect-metadata';

export * from './errors';
