// The bundle the runtime benchmarks run: a copy of the busybox demo's rootfs
// and config, its process /bin/true without a terminal.
import fs from 'node:fs';
import path from 'node:path';

export function trueBundle(demo, dir) {
  fs.mkdirSync(dir);
  fs.cpSync(path.join(demo, 'rootfs'), path.join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = JSON.parse(fs.readFileSync(path.join(demo, 'config.json'), 'utf8'));
  spec.process.args = ['true'];
  spec.process.terminal = false;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
