// The file and image transfers (tcr cp, export, save, push, login, logout)
// as one module of the pull bundle (dist/tcr-pull.cjs: they need tar-stream
// and the registry client), reached through src/bundles/images.ts.
export { copyFiles } from '../transfer/cp.js';
export { exportContainer } from '../transfer/export.js';
export { saveImages } from '../transfer/save.js';
export { pushImage } from '../transfer/push.js';
export { login, logout } from '../transfer/login.js';
