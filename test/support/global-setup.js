/** Probes the integration services once per jest run; see services.ts. */
const net = require('node:net');

const urls = {
  postgres: process.env.POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test',
  redis: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  nats: process.env.NATS_URL || 'nats://127.0.0.1:4222',
  mariadb: process.env.MARIADB_URL || 'mysql://root@127.0.0.1:3306/test',
};
const defaultPorts = { postgres: 5432, redis: 6379, nats: 4222, mariadb: 3306 };

function probe(name) {
  const url = new URL(urls[name]);
  const port = Number(url.port || defaultPorts[name]);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname || '127.0.0.1', port });
    const done = (up) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

module.exports = async () => {
  // createBulwark's production preset turns on under NODE_ENV=production; a shell that exports it
  // must not make every suite's demo-grade config (memory stores) fail. Suites of the preset set it themselves.
  if (process.env.NODE_ENV === 'production') {
    console.warn('jest: NODE_ENV=production in the environment; running the tests with NODE_ENV=test');
    process.env.NODE_ENV = 'test';
  }
  for (const name of Object.keys(urls)) {
    const key = `BULWARK_TEST_${name.toUpperCase()}`;
    if (process.env[key] === undefined) process.env[key] = (await probe(name)) ? 'up' : 'down';
  }
};
