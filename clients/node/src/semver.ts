// Semantic version order, as the server and the Go client apply it
// (licensing/semver.go): a VERSION_LOCKED lease names the newest application
// version an expired license still runs (maxVersion), and the client checks
// its own version against it, offline too.

interface Parts {
  core: [string, string, string]; // numeric identifiers without leading zeros
  pre: string; // dot-separated, '' when absent
}

const NUMERIC = /^(0|[1-9][0-9]*)$/;
const IDENT = /^[0-9A-Za-z-]+$/;

function validIdents(s: string, pre: boolean): boolean {
  for (const id of s.split('.')) {
    if (!IDENT.test(id)) return false;
    if (pre && /^[0-9]+$/.test(id) && id.length > 1 && id[0] === '0') return false;
  }
  return true;
}

function split(v: string): Parts | null {
  if (v.startsWith('v')) v = v.slice(1);
  const plus = v.indexOf('+');
  if (plus >= 0) {
    if (!validIdents(v.slice(plus + 1), false)) return null;
    v = v.slice(0, plus);
  }
  let pre = '';
  const dash = v.indexOf('-');
  if (dash >= 0) {
    pre = v.slice(dash + 1);
    if (!validIdents(pre, true)) return null;
    v = v.slice(0, dash);
  }
  const core = v.split('.');
  if (core.length !== 3 || !core.every((p) => NUMERIC.test(p))) return null;
  return { core: core as [string, string, string], pre };
}

/** validSemver reports whether v is a semantic version (a leading "v" is accepted). */
export function validSemver(v: string): boolean {
  return split(v) !== null;
}

function compareNumeric(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * compareSemver orders two versions: -1, 0 or +1. Build metadata is
 * ignored; a pre-release sorts before its release; invalid versions sort
 * before every valid one (and equal to each other).
 */
export function compareSemver(a: string, b: string): number {
  const pa = split(a);
  const pb = split(b);
  if (!pa || !pb) return !pa && !pb ? 0 : !pa ? -1 : 1;
  for (let i = 0; i < 3; i++) {
    const c = compareNumeric(pa.core[i], pb.core[i]);
    if (c !== 0) return c;
  }
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === '') return 1;
  if (pb.pre === '') return -1;
  const x = pa.pre.split('.');
  const y = pb.pre.split('.');
  for (let i = 0; i < x.length && i < y.length; i++) {
    const nx = /^[0-9]+$/.test(x[i]);
    const ny = /^[0-9]+$/.test(y[i]);
    let c = 0;
    if (nx && ny) c = compareNumeric(x[i], y[i]);
    else if (nx) c = -1;
    else if (ny) c = 1;
    else c = x[i] < y[i] ? -1 : x[i] > y[i] ? 1 : 0;
    if (c !== 0) return c;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/**
 * versionAllowed reports whether appVersion may run under a maintain
 * fallback whose newest allowed version is newest: a semantic version at
 * most newest. A missing or unparsable version is refused, since nobody can
 * tell when it was released.
 */
export function versionAllowed(appVersion: string, newest: string): boolean {
  return newest !== '' && validSemver(appVersion) && compareSemver(appVersion, newest) <= 0;
}
