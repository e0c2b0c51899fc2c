#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional dependencies that the
// registry mirror of the build machine does not serve (e.g. @rollup/rollup-win32-*),
// so `npm ci` accepts the lockfile on every platform. Each added entry carries the
// os/cpu/libc read from the package name; npm skips it where it does not apply.
// Run after any `npm install` that rewrites package-lock.json.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const OSES = ['android', 'darwin', 'freebsd', 'linux', 'netbsd', 'openbsd', 'openharmony', 'sunos', 'win32', 'aix'];
const CPUS = { arm: 'arm', 'arm-eabi': 'arm', arm64: 'arm64', x64: 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x' };

function platformOf(name) {
  const base = name.split('/').pop();
  const os = OSES.find((o) => base.includes(`-${o}-`) || base.startsWith(`${o}-`));
  if (!os) return null;
  const rest = base.slice(base.indexOf(os) + os.length + 1);
  const cpuKey = Object.keys(CPUS).sort((a, b) => b.length - a.length).find((c) => rest === c || rest.startsWith(`${c}-`));
  if (!cpuKey) return null;
  const libc = /musl/.test(rest) ? 'musl' : os === 'linux' && /gnu/.test(rest) ? 'glibc' : null;
  return { os: [os], cpu: [CPUS[cpuKey]], ...(libc ? { libc: [libc] } : {}) };
}

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pkgs[key] || pkgs[`${path}/node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(version)) {
      console.error(`fix-lockfile: cannot infer the platform of ${dep}@${version}; left out`);
      continue;
    }
    pkgs[key] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, ...platform };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(new URL('../package-lock.json.tmp', import.meta.url), JSON.stringify(lock, null, 2) + '\n');
renameSync(new URL('../package-lock.json.tmp', import.meta.url), file);
console.log(`fix-lockfile: added ${added} platform-specific optional entries`);
