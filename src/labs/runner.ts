// Runs labs: the context each is given (a scratch directory, bin/tcr as a
// child), its text on stdout, its figures as files, and `lab all`'s report.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TcrError, errorMessage } from '../errors.js';
import { log, out } from '../log.js';
import { packageRoot, tcrLoader } from '../sys/package-root.js';
import { LABS, findLab } from './index.js';
import type { Lab, LabContext, LabResult, TcrOutput } from './lab.js';
import { reportHtml, type ReportEntry } from './report.js';

function runTcr(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<TcrOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tcrLoader(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1) });
    });
    child.stdin.end(options.input ?? '');
  });
}

async function runLab(lab: Lab): Promise<LabResult> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `tcr-lab-${lab.name}-`));
  const ctx: LabContext = {
    scratch,
    tcr: runTcr,
    progress: (line) => log.info(`lab ${lab.name}: ${line}`),
    busyboxRootfs: path.join(packageRoot(), 'demo', 'busybox', 'rootfs'),
  };
  try {
    return await lab.run(ctx);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function labNamed(name: string): Lab {
  const lab = findLab(name);
  if (!lab) throw new TcrError(`lab ${JSON.stringify(name)}: no such lab (tcr lab list names them: ${LABS.map((l) => l.name).join(', ')})`);
  return lab;
}

/** A PNG beside an SVG where a converter is installed (rsvg-convert); none is drawn otherwise. */
function pngOf(svgFile: string): string | undefined {
  const png = svgFile.replace(/\.svg$/, '.png');
  const r = spawnSync('rsvg-convert', ['-o', png, svgFile], { stdio: 'ignore' });
  return r.status === 0 ? png : undefined;
}

function writeFigures(result: LabResult, dir: string, prefix = ''): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const f of result.figures) {
    if (!/^[a-z0-9-]+$/.test(f.name)) throw new TcrError(`figure name ${JSON.stringify(f.name)}: letters, digits and '-' only`);
    const file = path.join(dir, `${prefix}${f.name}.svg`);
    fs.writeFileSync(file, f.svg);
    files.push(file);
    const png = pngOf(file);
    if (png) files.push(png);
  }
  return files;
}

export function labList(): void {
  const width = Math.max(...LABS.map((l) => l.name.length));
  out(LABS.map((l) => `${l.name.padEnd(width)}  ${l.title}\n`).join(''));
}

export async function labOne(name: string, outDir?: string): Promise<void> {
  const lab = labNamed(name);
  const result = await runLab(lab);
  out(`${lab.title}\n\n${result.text.trimEnd()}\n`);
  const files = writeFigures(result, outDir ?? `lab-${lab.name}`);
  out(`\n${files.map((f) => `wrote ${f}\n`).join('')}`);
}

/** Every lab, then one offline HTML report: a lab that fails is reported as such and the others still run. */
export async function labAll(reportDir: string): Promise<number> {
  const entries: ReportEntry[] = [];
  for (const lab of LABS) {
    try {
      const result = await runLab(lab);
      out(`== ${lab.name}: ${lab.title}\n${result.text.trimEnd()}\n\n`);
      writeFigures(result, reportDir, `${lab.name}-`);
      entries.push({ lab, result });
    } catch (e) {
      log.error(`lab ${lab.name}: ${errorMessage(e)}`);
      entries.push({ lab, error: errorMessage(e) });
    }
  }
  fs.mkdirSync(reportDir, { recursive: true });
  const index = path.join(reportDir, 'index.html');
  fs.writeFileSync(index, reportHtml(entries, { host: os.hostname(), kernel: os.release(), date: new Date().toISOString() }));
  out(`wrote ${index}\n`);
  return entries.some((e) => e.error) ? 1 : 0;
}
