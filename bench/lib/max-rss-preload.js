'use strict';

// Preloaded (`node --require`) into a benchmarked CLI process when GNU time is not installed:
// writes the process's peak RSS in KiB (the kernel's ru_maxrss) to $BULWARK_BENCH_RSS_FILE at exit.
const file = process.env.BULWARK_BENCH_RSS_FILE;
if (file) {
  delete process.env.BULWARK_BENCH_RSS_FILE;
  process.on('exit', () => {
    require('node:fs').writeFileSync(file, String(process.resourceUsage().maxRSS));
  });
}
