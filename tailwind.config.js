/** Tailwind v3 config for the NLS portal.
 *  Content is purged from the templ sources and their generated Go, so only
 *  classes that appear there (or in web/styles/input.css) ship.
 *  @type {import('tailwindcss').Config} */
const defaultTheme = require('tailwindcss/defaultTheme');

module.exports = {
  content: ['./web/templates/**/*.{templ,go}'],
  // The component classes of web/styles/input.css ship even before a
  // template uses them, so a new page can rely on the whole kit.
  safelist: [
    'btn', 'btn-primary', 'btn-danger', 'btn-ghost', 'btn-sm',
    'label', 'input', 'field-error', 'link', 'card',
    'table-wrap', 'data-table',
    'toast', 'toast-success', 'toast-error', 'toast-info',
    'nav-link', 'nav-link-active',
  ],
  theme: {
    extend: {
      colors: {
        // Indigo leaning violet; 600 on white passes WCAG AA for text.
        brand: {
          50: '#f3f2ff',
          100: '#e9e7ff',
          200: '#d5d1ff',
          300: '#b6adfe',
          400: '#9280fb',
          500: '#7257f6',
          600: '#6038eb',
          700: '#5128d3',
          800: '#4322ac',
          900: '#391f8a',
          950: '#21115e',
        },
      },
      fontFamily: {
        // System faces only: nothing is fetched from outside the process.
        sans: [
          'Inter',
          'ui-sans-serif',
          'system-ui',
          '-apple-system',
          'BlinkMacSystemFont',
          '"Segoe UI"',
          'Roboto',
          '"Helvetica Neue"',
          'Arial',
          '"Noto Sans"',
          'sans-serif',
          '"Apple Color Emoji"',
          '"Segoe UI Emoji"',
        ],
        mono: defaultTheme.fontFamily.mono,
      },
    },
  },
  plugins: [],
};
