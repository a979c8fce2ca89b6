/** `npm start` builds with a line per package (scripts/build.js) instead of ~40 s of silence. */
const { describe: describeLine } = require('../scripts/build.js') as {
  describe(line: string): string | undefined;
};

describe('npm start build output', () => {
  it('prints a line per package as it builds or is found up to date', () => {
    expect(describeLine('@bulwark/core:build: cache miss, executing 68e2551f309824b5')).toBe(
      '  building @bulwark/core',
    );
    expect(describeLine('@bulwark/koa:build: cache hit, suppressing logs 42a59e66d317d376')).toBe(
      '  @bulwark/koa is up to date',
    );
  });

  it('passes the compiler errors and the failure summary through', () => {
    expect(
      describeLine("@bulwark/cli:build: src/index.ts(7,14): error TS2322: Type 'string' is not assignable"),
    ).toBe("  @bulwark/cli: src/index.ts(7,14): error TS2322: Type 'string' is not assignable");
    expect(describeLine('Failed:    @bulwark/cli#build')).toBe('Failed:    @bulwark/cli#build');
  });

  it("drops npm's script echo, blank task lines and turbo's banner", () => {
    expect(describeLine('@bulwark/cli:build: > tsc -p tsconfig.build.json')).toBeUndefined();
    expect(describeLine('@bulwark/cli:build: ')).toBeUndefined();
    expect(describeLine('   • Running build in 9 packages')).toBeUndefined();
  });
});
