// The dependency rule of Easel's parts (ARCHITECTURE.md, "The dependency rule"), checked by
// `npm run lint:deps`, which `npm test` runs first.
const fs = require('node:fs');
const path = require('node:path');

const PARTS = ['schema', 'gpu-runtime', 'api'];

/** Every file a part offers other parts: the source behind each entry of its package.json `exports`. */
function publicEntries(root) {
  return PARTS.flatMap((part) => {
    const { exports } = JSON.parse(fs.readFileSync(path.join(root, part, 'package.json'), 'utf8'));
    return Object.values(exports).map((target) => path.posix.join(part, target['easel-source']));
  });
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const entryPattern = `^(${publicEntries(__dirname).map(escape).join('|')})$`;

module.exports = {
  forbidden: [
    {
      name: 'schema-imports-nothing-of-ours',
      comment: '@easel/schema is what the parts agree on: it depends on no other part.',
      severity: 'error',
      from: { path: '^schema/' },
      to: { path: '^(api|gpu-runtime|scripts)/' },
    },
    {
      name: 'gpu-runtime-never-imports-api',
      comment: 'The GPU function ships alone: it knows the job contract (@easel/schema), never the API.',
      severity: 'error',
      from: { path: '^gpu-runtime/' },
      to: { path: '^(api|scripts)/' },
    },
    {
      name: 'production-code-imports-no-script',
      comment: 'scripts/ holds command-line programs over the parts; library code lives in the part it serves.',
      severity: 'error',
      from: { path: '^(api|gpu-runtime|schema)/src/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'parts-meet-at-public-entries',
      comment: "Across parts, import a package name and one of its `exports`, never another part's files.",
      severity: 'error',
      from: { path: '^(api|gpu-runtime|schema|scripts)/' },
      to: { path: '^(api|gpu-runtime|schema|scripts)/', pathNot: ['^$1/', entryPattern] },
    },
    {
      name: 'parts-meet-by-package-name',
      comment: 'A relative path into another part (../../schema/...) bypasses its package: import @easel/<part>.',
      severity: 'error',
      from: { path: '^(api|gpu-runtime|schema|scripts)/' },
      to: { dependencyTypes: ['local'], dependencyTypesNot: ['aliased-workspace'], path: '^(api|gpu-runtime|schema|scripts)/', pathNot: '^$1/' },
    },
    {
      name: 'domain-never-imports-adapters',
      comment: 'The API domain (accounts, catalog, prompts, generations, ...) is served by graphql/ and http/, never the reverse.',
      severity: 'error',
      from: { path: '^api/src/', pathNot: '^api/src/(graphql|http)/|^api/src/(server|main|index)\\.ts$' },
      to: { path: '^api/src/(graphql|http)/' },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      from: { path: '^(api|gpu-runtime|schema)/src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.test.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      conditionNames: ['easel-source', 'import', 'require', 'node', 'default'],
      exportsFields: ['exports'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
