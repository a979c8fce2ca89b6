export * from './security-report';
export * from './render-security-report';
