import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers of functions/, lowest first. A module may import its own layer and the layers it names
 * below; anything else fails `npm run lint`:
 *
 *   handlers → wiring | edge → flows → store | calendly → domain
 *
 * - domain/   pure model, messages, statuses, errors: imports nothing of ours.
 * - ports.ts  the interfaces flows are written against (plus the system clock): a leaf.
 * - shared/   leaf utilities (http shapes, logger, metrics, crypto, webhook signature): domain, ports.
 * - adapters/ AWS SDK clients behind ports: shared, domain, ports.
 * - calendly/ and store/ talk to one outside service each; neither imports the other.
 * - flows/    the stories, over ports, stores and the Calendly port.
 * - edge/     event in, flow, answer out (the only place errors become HTTP answers).
 * - wiring/   one composition root per Lambda: the only code that reads the environment.
 * - handlers/ the Lambda entry points: a handler built by edge/ over a root from wiring/.
 */
const LAYERS = ['domain', 'shared', 'adapters', 'calendly', 'store', 'flows', 'edge', 'wiring', 'handlers'];

/** Forbids importing the named sibling directories of functions/ (from any depth below it). */
const forbid = (files, layers, extra = []) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...layers.map((layer) => ({
            regex: `^(\\.\\./)+${layer}/`,
            message: `${files[0].split('/')[1]}/ may not import ${layer}/ (direction: handlers → wiring | edge → flows → store | calendly → domain; see eslint.config.js).`,
          })),
          ...extra,
        ],
      },
    ],
  },
});

const above = (layer, ...alsoForbidden) => LAYERS.slice(LAYERS.indexOf(layer) + 1).concat(alsoForbidden);
const topLevel = { regex: '^(\\.\\./)+(ports|routes)\\.js$', message: 'domain/ imports nothing of ours.' };

export default tseslint.config(
  { ignores: ['node_modules/', '.tmp/', 'cdk.out/', '.data/', 'coverage/', 'test/artifacts/', 'bench/results.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The settings page (local/public/): browser JavaScript served as written, an ES module.
  // Names are checked by tsc against the DOM (tsconfig.browser.json), as typescript-eslint
  // advises for type-checked code, so ESLint's no-undef (which knows no browser globals) is off.
  {
    files: ['local/public/**/*.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022 },
    rules: { 'no-undef': 'off' },
  },
  forbid(['functions/domain/**/*.ts'], LAYERS.filter((l) => l !== 'domain'), [topLevel]),
  forbid(['functions/shared/**/*.ts'], above('shared')),
  forbid(['functions/adapters/**/*.ts'], above('adapters')),
  forbid(['functions/calendly/**/*.ts'], above('calendly', 'adapters')),
  forbid(['functions/store/**/*.ts'], above('store', 'calendly', 'adapters')),
  forbid(['functions/flows/**/*.ts'], above('flows', 'adapters')),
  forbid(['functions/edge/**/*.ts'], above('edge', 'adapters', 'store', 'calendly')),
  forbid(['functions/wiring/**/*.ts'], above('wiring', 'edge')),
  forbid(['functions/handlers/**/*.ts'], [], [
    { regex: '^\\./', message: 'A handler never imports another handler: share through edge/ or wiring/.' },
    { regex: '^\\.\\./(flows|store|calendly|adapters)/', message: 'Handlers reach flows, stores and adapters only through wiring/ and edge/.' },
  ]),
);
