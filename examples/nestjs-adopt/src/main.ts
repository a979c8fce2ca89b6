import { createAdoptApp, type AdoptMode } from './app';

/** `npm start`: ADOPT_MODE=before (default) or after; PORT (3002), DATA_DIR (./data). */
async function main(): Promise<void> {
  const mode = (process.env.ADOPT_MODE ?? 'before') as AdoptMode;
  const app = await createAdoptApp({
    mode,
    port: Number(process.env.PORT ?? 3002),
    ...(process.env.HOST ? { host: process.env.HOST } : {}),
    ...(process.env.DATA_DIR ? { dataDir: process.env.DATA_DIR } : {}),
  });
  console.log(`nestjs-adopt (${mode}) listening on ${app.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
