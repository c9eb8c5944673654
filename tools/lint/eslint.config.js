// tcr's lint rules. This package has its own node_modules because
// typescript-eslint needs TypeScript's compiler API (TypeScript 6 here), and
// the project compiles with TypeScript 7, a native program without that API.
// Run from the repository root: tools/lint/node_modules/.bin/eslint -c tools/lint/eslint.config.js
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { basePath: '../..' },
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'tools/**', 'demo/**', 'bench/**', 'scripts/**', 'bin/**', 'native/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: new URL('../..', import.meta.url).pathname } },
    rules: {
      // the cgroup managers and image sources implement async interfaces (systemd and registries await); v1's files are written synchronously
      '@typescript-eslint/require-await': 'off',
      // the CLI's action tables hold plain functions, none uses `this`
      '@typescript-eslint/unbound-method': 'off',
      // an unused name is tsc's to report (noUnusedLocals, noUnusedParameters); a rest sibling names what it leaves out
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
    },
  },
  {
    // koffi's calls return `any`: the FFI modules give each C function its TypeScript type at the boundary
    files: ['src/sys/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // plain JavaScript (the stress script): no type information to lint with
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    // tests read what the outside world printed (JSON of runc, podman, containerd) and assert on it: a wrong shape fails the assertion
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
