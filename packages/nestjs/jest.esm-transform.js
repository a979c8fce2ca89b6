/**
 * Jest transformer for the ESM-only NestJS 12 packages. It delegates to ts-jest (the same
 * transform the preset uses for ESM files in node_modules) after rewriting `import.meta.url`,
 * which CommonJS cannot express and which TypeScript leaves untouched (the file would then stay
 * ESM and jest would refuse it). A few NestJS files use it for `createRequire(import.meta.url)`;
 * the CommonJS equivalent is the file URL of `__filename`, and a module-level
 * `const require = createRequire(import.meta.url)` is dropped because CommonJS already has that
 * very `require` (redeclaring it is a SyntaxError inside jest's module wrapper). Outside jest,
 * Node >= 20.19 loads these packages natively with require(esm), so this exists for tests only.
 */
const tsJest = require('ts-jest').default;

const IMPORT_META_URL = /\bimport\.meta\.url\b/g;
const FILE_URL = "require('node:url').pathToFileURL(__filename).href";

const OWN_REQUIRE = /\b(?:const|let|var)\s+require\s*=\s*createRequire\(\s*import\.meta\.url\s*\)\s*;?/g;

const rewrite = (source) =>
  source.includes('import.meta')
    ? source.replace(OWN_REQUIRE, '').replace(IMPORT_META_URL, FILE_URL)
    : source;

module.exports = {
  createTransformer(options) {
    const inner = tsJest.createTransformer(options);
    return {
      canInstrument: inner.canInstrument,
      process: (source, path, config) => inner.process(rewrite(source), path, config),
      processAsync: (source, path, config) => inner.processAsync(rewrite(source), path, config),
      getCacheKey: (source, path, config) => inner.getCacheKey(rewrite(source), path, config),
      getCacheKeyAsync: (source, path, config) => inner.getCacheKeyAsync(rewrite(source), path, config),
    };
  },
};
