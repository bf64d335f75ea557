import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
);
