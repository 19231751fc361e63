// Node module hook (registered with --import): appends every module URL Node loads to the file
// named by NSEKIT_MODULE_LOG, so a test can see which source files a command really executed.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (process.env.NSEKIT_MODULE_LOG && url.startsWith('file:')) appendFileSync(process.env.NSEKIT_MODULE_LOG, url + '\\n');
  return next(url, context);
}`));
