export * from './alert';
export * from './alert-routing';
export * from './alert-router';
export * from './alert-dedupe-store';
export * from './webhook-signature';
export * from './webhook-channel';
export * from './email-channel';
export * from './nats-channel';
